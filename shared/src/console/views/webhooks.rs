//! The Webhooks tab.

use serde_json::{json, Value};

use crate::domain::webhooks::Webhook;

pub fn webhooks(hooks: &[Webhook]) -> Value {
    let rows: Vec<Value> = hooks
        .iter()
        .map(|w| json!({ "id": w.id, "cells": { "url": w.url, "events": w.events.join(", "), "enabled": if w.enabled { "Yes" } else { "No" } } }))
        .collect();
    json!({ "table": { "id": "webhooks", "caption": "Webhook endpoints", "caption_hidden": true,
        "columns": [{ "key": "url", "label": "URL" }, { "key": "events", "label": "Events" }, { "key": "enabled", "label": "Enabled" }],
        "rows": rows, "empty": "No webhook endpoints. Create them with POST /api/portals/{portal_id}/webhooks." } })
}
