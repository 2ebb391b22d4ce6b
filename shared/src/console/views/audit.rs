//! The Audit log tab (and a developer's history): events newest first.

use serde_json::{json, Value};

use super::{day, urlencoded};
use crate::domain::LifecycleEvent;
use crate::store::Page;

pub(super) fn event_row(e: &LifecycleEvent) -> Value {
    let who = e.developer.email.clone().or_else(|| e.developer.username.clone()).unwrap_or_else(|| e.developer.name.clone());
    let change = match (e.from_state, e.to_state) {
        (Some(a), Some(b)) if a != b => format!("{} → {}", a.as_str(), b.as_str()),
        _ => String::new(),
    };
    json!({ "id": e.id, "cells": { "at": day(&e.at), "type": e.event_type.name(), "developer": who, "change": change, "actor": e.actor.0 } })
}

pub fn audit(base: &str, page: &Page<LifecycleEvent>) -> Value {
    let rows: Vec<Value> = page.items.iter().map(event_row).collect();
    let mut v = json!({ "table": { "id": "audit", "caption": "Audit log, newest first", "caption_hidden": true,
        "columns": [{ "key": "at", "label": "When (UTC)" }, { "key": "type", "label": "Event" }, { "key": "developer", "label": "Developer" },
                    { "key": "change", "label": "Change" }, { "key": "actor", "label": "By" }], "rows": rows, "empty": "Nothing recorded yet." } });
    if let Some(c) = &page.next_cursor {
        v["next"] = format!("{base}?tab=audit&cursor={}", urlencoded(c)).into();
    }
    v
}
