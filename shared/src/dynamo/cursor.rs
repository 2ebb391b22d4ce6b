//! Page cursors: the key to continue after, bound to the query it was issued for, as
//! unpadded URL-safe base64 of `{"f": <fingerprint>, "k": {<key attributes>}}`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::attr::{item_str, s, Item};
use super::models::{decode, Model};
use crate::crypto::sha256_hex;
use crate::store::{Page, StoreError, StoreResult};

#[derive(Serialize, Deserialize)]
struct Cursor {
    /// Fingerprint of the query (portal, filter) the cursor belongs to.
    f: String,
    /// Key attributes to continue after.
    k: BTreeMap<String, String>,
}

/// What a cursor is bound to: a digest of the query's parts.
pub(crate) fn fingerprint(parts: &[&str]) -> String {
    sha256_hex(parts.join("\u{1f}").as_bytes())[..24].to_string()
}

pub(crate) fn encode(f: String, k: BTreeMap<String, String>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Cursor { f, k }).unwrap_or_default())
}

/// A query's key shape: the attributes of its cursors and the partition they must be in.
pub(crate) struct KeyShape<'a> {
    pub attrs: Vec<&'a str>,
    pub partition_attr: &'a str,
    pub partition: &'a str,
}

impl<'a> KeyShape<'a> {
    /// The shape of a query on a GSI (`<index>pk`/`<index>sk`) of the table.
    pub fn index(pk_attr: &'a str, sk_attr: &'a str, partition: &'a str) -> Self {
        Self { attrs: vec!["pk", "sk", pk_attr, sk_attr], partition_attr: pk_attr, partition }
    }

    /// The shape of a query on one of the table's own partitions (`pk`/`sk`).
    pub fn table(partition: &'a str) -> Self {
        Self { attrs: vec!["pk", "sk"], partition_attr: "pk", partition }
    }
}

/// Decodes a cursor and checks it belongs to this query and partition.
pub(crate) fn decode_cursor(raw: &str, f: &str, shape: &KeyShape<'_>) -> StoreResult<BTreeMap<String, String>> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| StoreError::BadCursor)?;
    let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    if c.f != f
        || c.k.get(shape.partition_attr).map(String::as_str) != Some(shape.partition)
        || c.k.len() != shape.attrs.len()
        || shape.attrs.iter().any(|a| !c.k.contains_key(*a))
        || c.k.values().any(|v| v.len() > 1024)
    {
        return Err(StoreError::BadCursor);
    }
    Ok(c.k)
}

/// The `ExclusiveStartKey` a cursor stands for, checked against the query it must belong to.
pub(crate) fn start_key(cursor: Option<&str>, f: &str, shape: &KeyShape<'_>) -> StoreResult<Option<Item>> {
    cursor.map(|c| Ok(decode_cursor(c, f, shape)?.into_iter().map(|(k, v)| (k, s(v))).collect())).transpose()
}

/// The items of a page from a query that read `limit + 1` items, and its cursor: the extra
/// item only tells that a next page exists, so the cursor is the key of the last item
/// returned (no dangling last page).
pub(crate) fn page_items(mut items: Vec<Item>, limit: usize, f: String, attrs: &[&str]) -> (Vec<Item>, Option<String>) {
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        let last = items.last().expect("limit >= 1");
        Some(encode(f, attrs.iter().filter_map(|a| item_str(last, a).map(|v| (a.to_string(), v))).collect()))
    } else {
        None
    };
    (items, next_cursor)
}

/// Such a page, decoded through its item model.
pub(crate) fn page_of<M: Model>(
    items: Vec<Item>,
    limit: usize,
    f: String,
    attrs: &[&str],
    total: Option<u64>,
) -> StoreResult<Page<M::Domain>> {
    let (items, next_cursor) = page_items(items, limit, f, attrs);
    Ok(Page { items: items.into_iter().map(decode::<M>).collect::<StoreResult<_>>()?, total, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_refused_for_another_query_or_partition_or_key_shape() {
        let part = "PORTAL#a#STATE#pending";
        let shape = KeyShape::index("gsi1pk", "gsi1sk", part);
        let f = fingerprint(&["portal-a", "pending"]);
        let k: BTreeMap<String, String> =
            [("pk", "DEV#x"), ("sk", "PROFILE"), ("gsi1pk", part), ("gsi1sk", "x")].map(|(a, v)| (a.to_string(), v.to_string())).into();
        let c = encode(f.clone(), k.clone());
        assert_eq!(decode_cursor(&c, &f, &shape).unwrap(), k);
        assert!(decode_cursor(&c, &fingerprint(&["portal-b", "pending"]), &shape).is_err());
        assert!(decode_cursor(&c, &f, &KeyShape::index("gsi1pk", "gsi1sk", "PORTAL#b#STATE#pending")).is_err());
        assert!(decode_cursor("not-a-cursor!", &f, &shape).is_err());
        let mut missing = k.clone();
        missing.remove("gsi1sk");
        assert!(decode_cursor(&encode(f.clone(), missing), &f, &shape).is_err());
        let mut extra = k;
        extra.insert("gsi2pk".into(), "x".into());
        assert!(decode_cursor(&encode(f.clone(), extra), &f, &shape).is_err());
    }

    #[test]
    fn a_page_that_read_one_item_more_than_its_limit_continues_after_its_last_item() {
        let item = |i: u8| Item::from([("pk".to_string(), s(format!("DEV#{i}"))), ("sk".to_string(), s("PROFILE"))]);
        let f = fingerprint(&["q"]);
        let (page, cursor) = page_items(vec![item(1), item(2), item(3)], 2, f.clone(), &["pk", "sk"]);
        assert_eq!(page.len(), 2);
        let bytes = URL_SAFE_NO_PAD.decode(cursor.unwrap()).unwrap();
        let c: Cursor = serde_json::from_slice(&bytes).unwrap();
        assert_eq!((c.f, c.k["pk"].as_str()), (f.clone(), "DEV#2"));
        assert_eq!(page_items(vec![item(1), item(2)], 2, f, &["pk", "sk"]).1, None, "no cursor to an empty last page");
    }
}
