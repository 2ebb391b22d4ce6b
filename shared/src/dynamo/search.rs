//! Listing developers: a page of a state (gsi1) or of the whole portal (gsi2) with the exact
//! total from the counters, or a `q` prefix search across email, username and name.

use super::attr::{s, Item};
use super::cursor::{decode_cursor, fingerprint, page_of, start_key, KeyShape};
use super::models::DeveloperItem;
use super::ops::{Query, QueryFilter};
use super::{keys, Dynamo};
use crate::domain::{Developer, DeveloperState};
use crate::store::{DeveloperQuery, DeveloperStore, Page, StoreError, StoreResult};

/// The three search indexes a `q` prefix is matched against, in the order a search pages
/// through them, each with the condition that leaves out what an earlier one already matched
/// (a developer whose email and name both start with `q` is found once, by email). So the
/// three ranges are disjoint: their counts add up to the exact total.
const SEARCH_INDEXES: [(&str, &str, &str); 3] = [
    ("gsi3", keys::SEARCH_EMAIL, ""),
    ("gsi4", keys::SEARCH_USERNAME, "NOT begins_with(gsi3sk, :q)"),
    ("gsi5", keys::SEARCH_NAME, "NOT begins_with(gsi3sk, :q) AND NOT begins_with(gsi4sk, :q)"),
];

/// One search index's part of a `q` search.
struct Segment {
    index: &'static str,
    pk_attr: String,
    sk_attr: String,
    condition: String,
    partition: String,
    /// The filter expression: the state asked for, and what an earlier segment matched.
    filter: Option<String>,
    state: Option<DeveloperState>,
}

impl Segment {
    fn new(i: usize, q: &DeveloperQuery) -> Self {
        let (index, field, exclude) = SEARCH_INDEXES[i];
        let (pk_attr, sk_attr) = (format!("{index}pk"), format!("{index}sk"));
        let condition = format!("{pk_attr} = :p AND begins_with({sk_attr}, :q)");
        let mut filters: Vec<&str> = Vec::new();
        if q.state.is_some() {
            filters.push("#state = :st");
        }
        if !exclude.is_empty() {
            filters.push(exclude);
        }
        let filter = (!filters.is_empty()).then(|| filters.join(" AND "));
        Self { index, pk_attr, sk_attr, condition, partition: keys::search(q.portal_id, field), filter, state: q.state }
    }

    fn shape(&self) -> KeyShape<'_> {
        KeyShape::index(&self.pk_attr, &self.sk_attr, &self.partition)
    }

    fn query<'a>(&'a self, prefix: &str) -> Query<'a> {
        let filter: Option<QueryFilter<'a>> = self.filter.as_deref().map(|e| match self.state {
            Some(st) => (e, vec![(":st", s(st.as_str()))], vec![("#state", "state")]),
            None => (e, vec![], vec![]),
        });
        Query::new(Some(self.index), &self.condition, vec![(":p", s(self.partition.as_str())), (":q", s(prefix))]).filter(filter)
    }
}

impl Dynamo {
    pub(crate) async fn search_developers(&self, q: &DeveloperQuery) -> StoreResult<Page<Developer>> {
        let limit = q.limit.clamp(1, 100);
        let Some(prefix) = &q.prefix else {
            return self.list_partition(q, limit).await;
        };
        // Three disjoint prefix ranges (email, then username, then name matches), paged
        // through in that order: a page reads only what it returns (+1), the exact total
        // is three concurrent counted queries.
        let f = fingerprint(&[&q.portal_id.to_string(), q.state.map(|s| s.as_str()).unwrap_or("*"), prefix]);
        let segments: Vec<Segment> = (0..SEARCH_INDEXES.len()).map(|i| Segment::new(i, q)).collect();
        // Which segment, and where in it, the cursor continues.
        let (first, start) = match &q.cursor {
            None => (0, None),
            Some(c) => segments
                .iter()
                .enumerate()
                .find_map(|(i, seg)| {
                    let k = decode_cursor(c, &f, &seg.shape()).ok()?;
                    Some((i, Some(k.into_iter().map(|(k, v)| (k, s(v))).collect::<Item>())))
                })
                .ok_or(StoreError::BadCursor)?,
        };
        let counts = async {
            let counted = segments.iter().map(|seg| async move { self.count_matches(&seg.query(prefix)).await });
            let (totals, portal) = tokio::join!(futures::future::try_join_all(counted), self.count_developers(q.portal_id));
            portal?.ok_or(StoreError::NotFound)?;
            Ok::<u64, StoreError>(totals?.into_iter().sum())
        };
        let page = async {
            let mut items: Vec<(usize, Item)> = Vec::new();
            let mut start = start;
            for (i, seg) in segments.iter().enumerate().skip(first) {
                let found = self.query(&seg.query(prefix), start.take(), Some(limit + 1 - items.len())).await?;
                items.extend(found.into_iter().map(|item| (i, item)));
                if items.len() > limit {
                    break;
                }
            }
            Ok::<_, StoreError>(items)
        };
        let (total, items) = tokio::join!(counts, page);
        let (total, items) = (total?, items?);
        // The cursor names the segment of the page's last item by its key attributes.
        let last = &segments[items.get(limit.saturating_sub(1)).map(|(i, _)| *i).unwrap_or(first)];
        let items: Vec<Item> = items.into_iter().map(|(_, item)| item).collect();
        page_of::<DeveloperItem>(items, limit, f, &last.shape().attrs, Some(total))
    }

    /// A page of one state (gsi1) or of all developers (gsi2), with the counters' total.
    async fn list_partition(&self, q: &DeveloperQuery, limit: usize) -> StoreResult<Page<Developer>> {
        let (index, pk_attr, sk_attr, partition) = match q.state {
            Some(st) => ("gsi1", "gsi1pk", "gsi1sk", keys::by_state(q.portal_id, st)),
            None => ("gsi2", "gsi2pk", "gsi2sk", keys::all_developers(q.portal_id)),
        };
        let f = fingerprint(&[&q.portal_id.to_string(), q.state.map(|s| s.as_str()).unwrap_or("*")]);
        let shape = KeyShape::index(pk_attr, sk_attr, &partition);
        let start = start_key(q.cursor.as_deref(), &f, &shape)?;
        let condition = format!("{pk_attr} = :p");
        let query = Query::new(Some(index), &condition, vec![(":p", s(partition.clone()))]);
        let (page, counts) = tokio::join!(self.query(&query, start, Some(limit + 1)), self.count_developers(q.portal_id));
        let items = page?;
        let counts = counts?.ok_or(StoreError::NotFound)?;
        let total = match q.state {
            Some(st) => counts.get(st),
            None => counts.total(),
        };
        page_of::<DeveloperItem>(items, limit, f, &shape.attrs, Some(total))
    }
}
