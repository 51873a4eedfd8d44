//! Paging, one rule for every list (docs/api.md, "Lists"): `?limit=` is 1 to
//! 1,000 (default 100), anything else is 422; `?after=` is the `next` cursor of
//! the previous page, and a value that cannot be a cursor of that list (empty,
//! garbage) is 422 too, never quietly the first page. Answers are
//! `{"items": [...], "next": CURSOR|null}`, built by [`Paged::of`].

use crate::error::{ApiError, ApiResult};
use roster_shared::model::ImportId;
use serde::Serialize;

/// The page size when `?limit=` is absent.
pub const DEFAULT_LIMIT: i64 = 100;
/// The largest page.
pub const MAX_LIMIT: i64 = 1000;

/// A position in a list, as `?after=` carries it.
pub trait Cursor: Sized {
    fn parse(text: &str) -> Option<Self>;
    fn show(&self) -> String;
}

/// Row numbers and integer ids: decimal digits, so any such text is a position.
impl Cursor for i64 {
    fn parse(text: &str) -> Option<Self> {
        if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Cursor for ImportId {
    fn parse(text: &str) -> Option<Self> {
        ImportId::parse(text)
    }
    fn show(&self) -> String {
        self.as_str().to_owned()
    }
}

/// A validated page request.
#[derive(Debug)]
pub struct Page<C> {
    pub limit: i64,
    pub after: Option<C>,
}

impl<C: Cursor> Page<C> {
    pub fn read(limit: Option<i64>, after: Option<&str>) -> ApiResult<Self> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(format!("limit: from 1 to {MAX_LIMIT}")));
        }
        let after = after
            .map(|a| {
                C::parse(a).ok_or_else(|| ApiError::invalid("after: not a cursor from this list"))
            })
            .transpose()?;
        Ok(Self { limit, after })
    }

    /// What to ask the database for: one more than the page, to know if a next one exists.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

/// One page of a list.
#[derive(Debug, Serialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

impl<T> Paged<T> {
    /// The page from `items` as fetched with [`Page::fetch`]: at most `limit`
    /// of them, and the cursor of the last one when more follow.
    pub fn of<C: Cursor>(mut items: Vec<T>, page: &Page<C>, cursor: impl Fn(&T) -> C) -> Self {
        let more = items.len() as i64 > page.limit;
        items.truncate(page.limit as usize);
        let next = more
            .then(|| items.last().map(|last| cursor(last).show()))
            .flatten();
        Self { items, next }
    }

    /// A list that is whole in one page.
    pub fn all(items: Vec<T>) -> Self {
        Self { items, next: None }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Page, Paged};
    use roster_shared::model::ImportId;

    #[test]
    fn limits_outside_the_range_are_refused() {
        for bad in [0, -1, 1001, i64::MIN] {
            assert!(Page::<i64>::read(Some(bad), None).is_err(), "{bad}");
        }
        assert_eq!(Page::<i64>::read(None, None).unwrap().limit, 100);
        assert_eq!(Page::<i64>::read(Some(1000), None).unwrap().limit, 1000);
    }

    #[test]
    fn cursors_must_be_of_the_list() {
        for bad in ["", "y3", "-1", "1.5", " 7", "99999999999999999999"] {
            assert!(Page::<i64>::read(None, Some(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(Page::<i64>::read(None, Some("42")).unwrap().after, Some(42));
        assert!(Page::<ImportId>::read(None, Some("42")).is_err());
        let id = ImportId::new();
        assert_eq!(
            Page::<ImportId>::read(None, Some(id.as_str()))
                .unwrap()
                .after,
            Some(id)
        );
    }

    #[test]
    fn a_page_says_where_the_next_starts() {
        let page = Page::<i64>::read(Some(2), None).unwrap();
        let paged = Paged::of(vec![1_i64, 2, 3], &page, |n| *n);
        assert_eq!((paged.items, paged.next), (vec![1, 2], Some("2".into())));
        let paged = Paged::of(vec![1_i64, 2], &page, |n| *n);
        assert_eq!((paged.items, paged.next), (vec![1, 2], None));
    }
}
