//! The deployed route table: every `(method, path)` of the HttpApi events in `template.yaml`
//! (the source of truth; `tests/contract/test_openapi.py` checks this copy, `openapi.yaml` and
//! the template agree). API Gateway sends whatever matches none of them to the `$default` route,
//! whose function answers 405 with `Allow` for a known path and 404 otherwise.

/// `(method, path template)`; `{name}` matches one non-empty segment, `{name+}` the rest.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/portals"),
    ("GET", "/api/portals/{portal_id}"),
    ("PATCH", "/api/portals/{portal_id}"),
    ("POST", "/api/portals/{portal_id}/register"),
    ("GET", "/api/portals/{portal_id}/developers"),
    ("GET", "/api/portals/{portal_id}/developers/{developer_id}"),
    ("PATCH", "/api/portals/{portal_id}/developers/{developer_id}"),
    ("DELETE", "/api/portals/{portal_id}/developers/{developer_id}"),
    ("GET", "/api/approvals"),
    ("POST", "/api/approvals/{approval_id}/accept"),
    ("POST", "/api/approvals/{approval_id}/reject"),
    ("POST", "/api/portals/{portal_id}/developers/invites"),
    ("GET", "/api/portals/{portal_id}/invites"),
    ("POST", "/api/portals/{portal_id}/invites/accept"),
    ("DELETE", "/api/portals/{portal_id}/invites/{invite_id}"),
    ("POST", "/api/portals/{portal_id}/invites/{invite_id}/resend"),
    ("POST", "/api/portals/{portal_id}/login"),
    ("GET", "/api/portals/{portal_id}/me"),
    ("POST", "/api/portals/{portal_id}/me/password"),
    ("POST", "/api/portals/{portal_id}/logout"),
    ("POST", "/api/portals/{portal_id}/password-reset"),
    ("POST", "/api/portals/{portal_id}/password-reset/confirm"),
    ("POST", "/api/portals/{portal_id}/verify-email"),
    ("POST", "/api/portals/{portal_id}/teams"),
    ("GET", "/api/portals/{portal_id}/teams"),
    ("POST", "/api/portals/{portal_id}/teams/{team_id}/developers"),
    ("GET", "/api/portals/{portal_id}/teams/{team_id}/developers"),
    ("DELETE", "/api/portals/{portal_id}/teams/{team_id}/developers/{developer_id}"),
    ("POST", "/api/portals/{portal_id}/applications"),
    ("GET", "/api/portals/{portal_id}/applications"),
    ("GET", "/api/portals/{portal_id}/applications/{application_id}"),
    ("DELETE", "/api/portals/{portal_id}/applications/{application_id}"),
    ("POST", "/api/portals/{portal_id}/applications/{application_id}/credentials"),
    ("GET", "/api/portals/{portal_id}/applications/{application_id}/credentials"),
    ("DELETE", "/api/portals/{portal_id}/applications/{application_id}/credentials/{credential_id}"),
    ("POST", "/api/portals/{portal_id}/applications/{application_id}/subscriptions"),
    ("DELETE", "/api/portals/{portal_id}/applications/{application_id}/subscriptions/{product}"),
    ("GET", "/api/portals/{portal_id}/developers/{developer_id}/applications"),
    ("GET", "/api/portals/{portal_id}/events"),
    ("GET", "/api/portals/{portal_id}/developers/{developer_id}/events"),
    ("POST", "/api/portals/{portal_id}/identity-providers"),
    ("GET", "/api/portals/{portal_id}/identity-providers"),
    ("GET", "/api/portals/{portal_id}/identity-providers/{idp_id}"),
    ("PATCH", "/api/portals/{portal_id}/identity-providers/{idp_id}"),
    ("DELETE", "/api/portals/{portal_id}/identity-providers/{idp_id}"),
    ("GET", "/api/portals/{portal_id}/sso/{idp_id}/start"),
    ("GET", "/api/portals/{portal_id}/sso/{idp_id}/callback"),
    ("POST", "/api/portals/{portal_id}/webhooks"),
    ("GET", "/api/portals/{portal_id}/webhooks"),
    ("GET", "/api/portals/{portal_id}/webhooks/{webhook_id}"),
    ("PATCH", "/api/portals/{portal_id}/webhooks/{webhook_id}"),
    ("DELETE", "/api/portals/{portal_id}/webhooks/{webhook_id}"),
    ("POST", "/api/portals/{portal_id}/webhooks/{webhook_id}/rotate-secret"),
    ("POST", "/api/portals/{portal_id}/webhooks/{webhook_id}/test"),
    ("GET", "/api/portals/{portal_id}/webhooks/{webhook_id}/deliveries"),
    ("POST", "/api/portals/{portal_id}/webhooks/{webhook_id}/replay"),
    ("GET", "/example/orders"),
    // The developer pages (HTML, issue 15) and their hashed static files.
    ("GET", "/portal/{portal_id}"),
    ("GET", "/portal/{portal_id}/{page+}"),
    ("POST", "/portal/{portal_id}/{page+}"),
    ("POST", "/portal/{portal_id}/register"),
    ("POST", "/portal/{portal_id}/reset-password"),
    ("POST", "/portal/{portal_id}/invite"),
    ("GET", "/portal/{portal_id}/change-password"),
    ("POST", "/portal/{portal_id}/change-password"),
    ("GET", "/static/{file+}"),
    // The admin console (HTML, issue 16; absent when ConsoleEnabled is false).
    ("GET", "/console"),
    ("GET", "/console/{page+}"),
    ("POST", "/console/{page+}"),
];

/// Whether a request path (as API Gateway matches it: raw, segment by segment, empty segments
/// significant) fits a route's path template.
pub fn path_matches(template: &str, path: &str) -> bool {
    let mut want = template.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return true,
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with("+}") => {
                return !g.is_empty() && want.next().is_none();
            }
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return false,
        }
    }
}

/// The methods some route answers on this path, sorted and without repeats (the `Allow`
/// header of a 405); empty when no route has this path.
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = ROUTES.iter().filter(|(_, t)| path_matches(t, path)).map(|(m, _)| *m).collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_matches_templates_segment_by_segment() {
        assert!(path_matches("/api/portals/{portal_id}", "/api/portals/abc"));
        assert!(!path_matches("/api/portals/{portal_id}", "/api/portals/"), "a parameter is never empty");
        assert!(!path_matches("/api/portals/{portal_id}", "/api/portals/abc/"), "a trailing slash is another path");
        assert!(!path_matches("/api/portals", "/api/portals/abc"));
        assert!(!path_matches("/api/portals/{portal_id}/me", "/api/portals/abc"));
        assert!(path_matches("/files/{path+}", "/files/a/b/c"));
        assert!(!path_matches("/files/{path+}", "/files/"));
    }

    #[test]
    fn allowed_methods_unite_every_route_of_a_path() {
        assert_eq!(allowed_methods("/api/portals/x"), ["GET", "PATCH"]);
        assert_eq!(allowed_methods("/api/portals"), ["POST"]);
        assert_eq!(allowed_methods("/api/portals/x/developers/invites"), ["DELETE", "GET", "PATCH", "POST"]);
        assert_eq!(allowed_methods("/example/orders"), ["GET"]);
        assert!(allowed_methods("/api/nowhere").is_empty());
        assert!(allowed_methods("/").is_empty());
    }

    #[test]
    fn the_route_table_has_no_duplicates_and_only_known_methods() {
        let mut seen = std::collections::HashSet::new();
        for (method, path) in ROUTES {
            assert!(seen.insert((method, path)), "{method} {path} twice");
            assert!(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].contains(method), "{method}");
            assert!(path.starts_with('/'), "{path}");
        }
    }
}
