//! The Teams tab: the list and the Create team form.

use serde_json::{json, Value};

use super::day;
use crate::domain::Team;
use crate::store::Page;

pub fn teams(base: &str, page: &Page<Team>) -> Value {
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|t| json!({ "id": t.id, "cells": { "name": t.name, "description": t.description.clone().unwrap_or_default(), "created": day(&t.created_at) } }))
        .collect();
    json!({
        "table": { "id": "teams", "caption": "Teams", "caption_hidden": true, "columns": [{ "key": "name", "label": "Team" },
                   { "key": "description", "label": "Description" }, { "key": "created", "label": "Created" }], "rows": rows, "empty": "No teams yet." },
        "create": { "action": format!("{base}/teams"), "fields": [
            { "name": "name", "label": "Team name", "required": true, "autocomplete": "off", "id": "f-team-name" },
            { "name": "description", "label": "Description", "optional": true, "autocomplete": "off", "id": "f-team-description" }] },
    })
}
