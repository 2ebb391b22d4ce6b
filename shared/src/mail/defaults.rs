//! The built-in mail templates.

use super::MailKind;

/// The built-in subject, text and HTML templates of each mail.
pub(super) fn default_templates(kind: MailKind) -> (&'static str, &'static str, &'static str) {
    match kind {
            MailKind::AccessRequest => (
                "[{{ portal_name }}] {{ developer_name }} requests access",
                "{{ developer_name }} <{{ developer_email }}> registered on {{ portal_name }} and is waiting for approval.\n\nReview the request in the admin console{% if portal_url %}: {{ portal_url }}{% endif %}.\n",
                "<p><strong>{{ developer_name }}</strong> &lt;{{ developer_email }}&gt; registered on {{ portal_name }} and is waiting for approval.</p>\n<p>Review the request in the admin console{% if portal_url %}: <a href=\"{{ portal_url }}\">{{ portal_url }}</a>{% endif %}.</p>\n",
            ),
            MailKind::Approved => (
                "Your access to {{ portal_name }} is approved",
                "Hello {{ developer_name }},\n\nyour account on {{ portal_name }} has been approved. You can now sign in{% if login_url %} at {{ login_url }}{% endif %} and create applications and credentials.\n",
                "<p>Hello {{ developer_name }},</p>\n<p>your account on {{ portal_name }} has been approved. You can now sign in{% if login_url %} at <a href=\"{{ login_url }}\">{{ login_url }}</a>{% endif %} and create applications and credentials.</p>\n",
            ),
            MailKind::RegistrationAttempted => (
                "Someone tried to register on {{ portal_name }} with your address",
                "Hello,\n\nsomeone just tried to create an account on {{ portal_name }} with this email address, which already has an account. If it was you, sign in{% if login_url %} at {{ login_url }}{% endif %} or reset your password. If it was not, you can ignore this message: nothing was changed.\n",
                "<p>Hello,</p>\n<p>someone just tried to create an account on {{ portal_name }} with this email address, which already has an account. If it was you, sign in{% if login_url %} at <a href=\"{{ login_url }}\">{{ login_url }}</a>{% endif %} or reset your password. If it was not, you can ignore this message: nothing was changed.</p>\n",
            ),
            MailKind::Invite => (
                "You are invited to {{ portal_name }}",
                "Hello,\n\nyou are invited to create a developer account on {{ portal_name }}. Accept the invitation here:\n\n{{ link_url }}\n\n{% if expires_at %}The link works once and expires on {{ expires_at }}.{% else %}The link works once.{% endif %} If you were not expecting it, ignore this message.\n",
                "<p>Hello,</p>\n<p>you are invited to create a developer account on {{ portal_name }}.</p>\n<p><a href=\"{{ link_url }}\">Accept the invitation</a></p>\n<p>{% if expires_at %}The link works once and expires on {{ expires_at }}.{% else %}The link works once.{% endif %} If you were not expecting it, ignore this message.</p>\n",
            ),
            MailKind::Reset => (
                "Reset your password on {{ portal_name }}",
                "Hello {{ developer_name }},\n\nsomeone asked to reset the password of your account on {{ portal_name }}. Choose a new password here:\n\n{{ link_url }}\n\n{% if expires_at %}The link works once and expires on {{ expires_at }}.{% else %}The link works once.{% endif %} If you did not ask for this, ignore this message: your password stays as it is.\n",
                "<p>Hello {{ developer_name }},</p>\n<p>someone asked to reset the password of your account on {{ portal_name }}.</p>\n<p><a href=\"{{ link_url }}\">Choose a new password</a></p>\n<p>{% if expires_at %}The link works once and expires on {{ expires_at }}.{% else %}The link works once.{% endif %} If you did not ask for this, ignore this message: your password stays as it is.</p>\n",
            ),
            MailKind::ResetSuccess => (
                "Your password on {{ portal_name }} was changed",
                "Hello {{ developer_name }},\n\nthe password of your account on {{ portal_name }} was just reset, and every session was signed out. If this was not you, contact the portal's administrators at once.\n",
                "<p>Hello {{ developer_name }},</p>\n<p>the password of your account on {{ portal_name }} was just reset, and every session was signed out. If this was not you, contact the portal's administrators at once.</p>\n",
            ),
            MailKind::Verification => (
                "Confirm your email address for {{ portal_name }}",
                "Hello {{ developer_name }},\n\nthanks for registering on {{ portal_name }}. The next step is to confirm that this is your email address:\n\n{{ link_url }}\n\nYou can sign in only once the address is confirmed (and, where the portal reviews new accounts, approved).{% if expires_at %} The link expires on {{ expires_at }}.{% endif %} If you did not register, ignore this message.\n",
                "<p>Hello {{ developer_name }},</p>\n<p>thanks for registering on {{ portal_name }}. The next step is to confirm that this is your email address:</p>\n<p><a href=\"{{ link_url }}\">Confirm my address</a></p>\n<p>You can sign in only once the address is confirmed (and, where the portal reviews new accounts, approved).{% if expires_at %} The link expires on {{ expires_at }}.{% endif %} If you did not register, ignore this message.</p>\n",
            ),
            MailKind::PasswordChanged => (
                "Your password on {{ portal_name }} has been changed",
                "Hello {{ developer_name }},\n\nthe password of your account on {{ portal_name }} has just been changed from your account, and your other sessions were signed out. If this was not you, reset your password{% if login_url %} at {{ login_url }}{% endif %} and contact the portal's administrators at once.\n",
                "<p>Hello {{ developer_name }},</p>\n<p>the password of your account on {{ portal_name }} has just been changed from your account, and your other sessions were signed out. If this was not you, reset your password{% if login_url %} at <a href=\"{{ login_url }}\">{{ login_url }}</a>{% endif %} and contact the portal's administrators at once.</p>\n",
            ),
            MailKind::WebhookDisabled => (
                "[{{ portal_name }}] A webhook endpoint was disabled",
                "Every delivery to the webhook endpoint {{ webhook_url }} of {{ portal_name }} has failed since {{ failing_since }}, so it was disabled: it receives no more events.\n\nOnce the receiver works again, enable the endpoint in the admin console{% if portal_url %} ({{ portal_url }}){% endif %} or with PATCH .../webhooks/{id} {\"enabled\": true}.\n",
                "<p>Every delivery to the webhook endpoint <code>{{ webhook_url }}</code> of {{ portal_name }} has failed since {{ failing_since }}, so it was disabled: it receives no more events.</p>\n<p>Once the receiver works again, enable the endpoint in the admin console{% if portal_url %} (<a href=\"{{ portal_url }}\">{{ portal_url }}</a>){% endif %} or with <code>PATCH .../webhooks/{id} {\"enabled\": true}</code>.</p>\n",
            ),
        }
}
