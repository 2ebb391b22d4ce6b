//! The Invites tab and the Invite developers dialog: invite by link or with a one-time
//! password, re-send and withdraw.

use serde_json::{json, Value};

use super::views::{self, Tab};
use super::{error_message, portal_base, Console, ConsoleStore, PAGE_SIZE};
use crate::config::Config;
use crate::domain::{Portal, Timestamp};
use crate::error::AppError;
use crate::pages::web::Form;
use crate::pages::PageResponse;
use crate::store::AdminToken;

pub(super) async fn invites_section<S: ConsoleStore>(
    store: &S,
    token: &AdminToken,
    portal: &Portal,
    base: &str,
    c: &Console<'_>,
    now: Timestamp,
) -> Result<Value, AppError> {
    let cursor = c.req.query("cursor").map(str::to_string);
    let page =
        crate::invites::list_invites(store, token, portal.id, Some("pending".into()), Some(PAGE_SIZE.to_string()), cursor, now).await?;
    Ok(views::invites::invites(base, &page))
}

/// A re-rendered form's status, summary and field errors (`name` → sentence).
pub(super) type FormProblem = (u16, Vec<Value>, Vec<(String, String)>);

pub(super) fn invite_page(mut c: Console<'_>, portal: &Portal, form: Option<&Form>, problem: Option<FormProblem>) -> PageResponse {
    let (status, errors, by_field) = problem.unwrap_or((200, vec![], vec![]));
    let mut ctx = c.context("Invite developers", errors);
    ctx.insert("portal_name".into(), portal.name.clone().into());
    ctx.insert("back".into(), json!({ "label": "Back to invites", "href": views::tab_url(&portal_base(portal), Tab::Invites) }));
    ctx.insert("dialog".into(), views::invites::invite_forms(&portal_base(portal), form, &by_field));
    c.html(status, "console/invite.html", ctx)
}

pub(super) async fn invite_post<S: ConsoleStore>(
    store: &S,
    config: &Config,
    c: Console<'_>,
    portal: &Portal,
    form: &Form,
    now: Timestamp,
) -> PageResponse {
    let token = c.token().clone();
    let result = if form.get("mode") == "password" {
        let new = crate::invites::TemporaryAccount {
            username: form.get("username").trim(),
            name: form.get("name").trim(),
            email: Some(form.get("email")),
        };
        crate::invites::invite_with_generated_password(store, &token, portal.id, new, now)
            .await
            .map(|(d, password)| super::results::Outcome::Secret(views::invites::created_secret(&portal_base(portal), &d, &password)))
    } else {
        let emails = views::invites::split_addresses(form.get("emails"));
        crate::invites::invite_links(store, config, &token, portal.id, crate::invites::LinkInvites { emails }, now)
            .await
            .map(|outcomes| super::results::Outcome::Invite(views::invites::invite_outcomes(&outcomes)))
    };
    match result {
        Ok(outcome) => super::results::keep(store, c, portal, outcome, now).await,
        Err(e) => {
            let status = crate::http::status_of(&e);
            if status >= 500 {
                return c.error_page(&e);
            }
            let (by_field, errors) = views::invites::invite_errors(&e);
            invite_page(c, portal, Some(form), Some((status, errors, by_field)))
        }
    }
}

/// The buttons of an invite's row.
#[derive(Clone, Copy)]
enum InviteButton {
    Resend,
    Withdraw,
}
const INVITE_BUTTONS: [(&str, InviteButton); 2] = [("resend", InviteButton::Resend), ("withdraw", InviteButton::Withdraw)];

pub(super) async fn invite_action<S: ConsoleStore>(
    store: &S,
    config: &Config,
    c: Console<'_>,
    portal: &Portal,
    form: &Form,
    now: Timestamp,
) -> PageResponse {
    let token = c.token().clone();
    let done = match super::row_button(form, &INVITE_BUTTONS) {
        Some((InviteButton::Resend, Some(id))) => {
            crate::invites::resend_invite(store, config, &token, portal.id, id, now).await.map(|_| "invite_resent")
        }
        Some((InviteButton::Withdraw, Some(id))) => {
            crate::invites::withdraw_invite(store, &token, portal.id, id, now).await.map(|()| "invite_withdrawn")
        }
        _ => Err(AppError::not_found("invite")),
    };
    super::tab_outcome(store, c, portal, Tab::Invites, done, error_message, now).await
}
