//! A developer's detail page and its team memberships.

use serde_json::json;
use uuid::Uuid;

use super::views::{self, Tab};
use super::{error_message, portal_base, Console, ConsoleStore};
use crate::audit::EventParams;
use crate::domain::{Portal, Timestamp};
use crate::error::AppError;
use crate::pages::web::Form;
use crate::pages::PageResponse;

pub(super) async fn developer_page<S: ConsoleStore>(store: &S, mut c: Console<'_>, portal: &Portal, id: Uuid) -> PageResponse {
    let token = c.token().clone();
    let dev = match crate::access::developer_for(store, &token, portal.id, id).await {
        Ok(d) => d,
        Err(e) => return c.error_page(&e),
    };
    let history_params = EventParams { limit: Some("50".into()), ..Default::default() };
    let (teams, apps, history) = tokio::join!(
        crate::teams::list_teams(store, &token, portal.id, Some("100".into()), None),
        store.list_apps(dev.id),
        crate::audit::list_events(store, &token, portal.id, Some(dev.id), &history_params),
    );
    let (teams, apps, history) = match (teams, apps, history) {
        (Ok(t), Ok(a), Ok(h)) => (t, a, h),
        (Err(e), _, _) | (_, _, Err(e)) => return c.error_page(&e),
        (_, Err(e), _) => return c.error_page(&e.into()),
    };
    let keys = futures::future::join_all(apps.iter().map(|a| store.list_credentials(dev.id, a.id))).await;
    let keys: Vec<Vec<crate::domain::Credential>> = keys.into_iter().map(Result::unwrap_or_default).collect();
    let base = portal_base(portal);
    let mut ctx = c.context(&views::display_name(&dev), vec![]);
    ctx.insert("portal_name".into(), portal.name.clone().into());
    ctx.insert(
        "back".into(),
        json!({ "label": format!("Back to {}", portal.name), "href": views::tab_url(&base, Tab::for_state(dev.state)) }),
    );
    ctx.insert("d".into(), views::developer::developer_detail(&base, &dev, &teams.items, &apps, &keys, &history.items));
    c.html(200, "console/developer.html", ctx)
}

pub(super) async fn membership<S: ConsoleStore>(
    store: &S,
    c: Console<'_>,
    portal: &Portal,
    dev: Uuid,
    form: &Form,
    now: Timestamp,
) -> PageResponse {
    let token = c.token().clone();
    let back = format!("{}/developers/{dev}", portal_base(portal));
    let done = if let Some((_, team)) = super::row_button(form, &[("remove", ())]) {
        match team {
            Some(t) => crate::teams::remove_member(store, &token, portal.id, t, dev, now).await.map(|()| "member_removed"),
            None => Err(AppError::not_found("team")),
        }
    } else {
        match form.get("team_id").parse::<Uuid>() {
            Ok(t) => crate::teams::add_member(store, &token, portal.id, t, crate::teams::MemberRef { id: dev.to_string() }, now)
                .await
                .map(|_| "member_added"),
            Err(_) => Err(AppError::field("team_id", "choose a team")),
        }
    };
    match done {
        Ok(flash) => c.redirect(&back, Some(flash)),
        Err(e) => {
            let status = crate::http::status_of(&e);
            c.message(status, "This did not work", &error_message(&e), ("Back to the developer", &back))
        }
    }
}
