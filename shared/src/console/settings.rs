//! The Settings tab's form, through the PATCH route's use case.

use serde_json::json;

use super::views::{self, Tab};
use super::{portal_base, portal_page, Console, ConsoleStore, View};
use crate::config::Config;
use crate::domain::{Portal, Timestamp};
use crate::error::AppError;
use crate::pages::web::Form;
use crate::pages::PageResponse;

pub(super) async fn settings_post<S: ConsoleStore>(
    store: &S,
    config: &Config,
    c: Console<'_>,
    portal: &Portal,
    form: &Form,
    now: Timestamp,
) -> PageResponse {
    let token = c.token().clone();
    let back = views::tab_url(&portal_base(portal), Tab::Settings);
    let outcome = match views::settings::settings_patch(form) {
        Ok(patch) => match serde_json::from_value::<crate::portals::PortalPatch>(json!({ "settings": patch })) {
            Ok(patch) => crate::portals::patch_portal(store, config, &token, portal.id, patch, now).await.map(|_| ()),
            Err(e) => Err(AppError::field("settings", e.to_string())),
        },
        Err(errs) => Err(AppError::Invalid(errs)),
    };
    match outcome {
        Ok(()) => c.redirect(&back, Some("settings_saved")),
        Err(e) => {
            let status = crate::http::status_of(&e);
            if status >= 500 {
                return c.error_page(&e);
            }
            let (field_errors, errors) = views::settings::settings_errors(&e);
            let view = View {
                status: Some(status),
                errors,
                tab: Some(Tab::Settings),
                field_errors,
                posted: Some(form.clone()),
                ..Default::default()
            };
            portal_page(store, c, portal, view, now).await
        }
    }
}
