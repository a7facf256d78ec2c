//! Pieces every list endpoint shares: query parameters and the page envelope.

use serde::{Deserialize, Serialize};
use ulak_core::model::{GroupId, ListQuery, Page};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// Query parameters of list endpoints.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 17, pattern = "^c([0-9a-f]{1,15}|[0-7][0-9a-f]{15})$")]
    pub cursor: Option<String>,
    /// Case-insensitive search in names (and phones, where there are any); no control
    /// characters.
    #[param(max_length = 200, pattern = r"^[^\x00-\x1F\x7F-\x9F]*$")]
    pub search: Option<String>,
}

impl ListParams {
    /// The domain query.
    pub fn query(self) -> Result<ListQuery, ApiError> {
        self.query_in(None)
    }

    /// The domain query, restricted to one group's members.
    pub fn query_in(self, group: Option<GroupId>) -> Result<ListQuery, ApiError> {
        Ok(ListQuery::parse(
            self.limit,
            self.cursor,
            self.search,
            group,
        )?)
    }
}

/// One page of results: at most `limit` items, fewer when they are large (a page of
/// subscribers or customer accounts ends after about 2 MiB); follow `next_cursor` until it
/// is absent.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageOut<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> PageOut<T> {
    /// Converts a domain page.
    pub fn from_page<U>(page: Page<U>, f: impl FnMut(U) -> T) -> PageOut<T> {
        PageOut {
            items: page.items.into_iter().map(f).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// Unix milliseconds as RFC 3339 would be nicer to read, but milliseconds round-trip exactly
/// and sort as numbers; every `*_at` field of the API is unix milliseconds.
pub type Millis = i64;

/// Reads a field that may be absent (leave as is), `null` (clear) or a value (set), for
/// `#[serde(default, deserialize_with = "nullable")]` on an `Option<Option<T>>`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The schema of free attributes (subscribers, customer accounts) with their limits: at most
/// 100, names of 1 to 64 letters, digits, `_` or `.`, values of at most 1,000 characters,
/// 16 KiB of names and values together.
pub fn attributes_schema() -> utoipa::openapi::schema::Object {
    attributes_object(utoipa::openapi::schema::Type::Object.into())
}

/// [`attributes_schema`], also `null` (a patch field).
pub fn attributes_patch_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    attributes_object(SchemaType::from_iter([Type::Object, Type::Null]))
}

fn attributes_object(
    schema_type: utoipa::openapi::schema::SchemaType,
) -> utoipa::openapi::schema::Object {
    use ulak_core::model::{MAX_ATTRIBUTE_NAME_CHARS, MAX_ATTRIBUTE_VALUE_CHARS, MAX_ATTRIBUTES};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_ATTRIBUTE_VALUE_CHARS))
        .pattern(Some(super::schema::TEXT_ANY));
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_ATTRIBUTE_NAME_CHARS))
        .pattern(Some(super::schema::NAME));
    ObjectBuilder::new()
        .schema_type(schema_type)
        .description(Some(
            "Free attributes usable in templates as `{{name}}`, e.g. `{\"bakiye\": \"120,50\"}`: \
             at most 100; names of 1 to 64 letters, digits, `_` or `.`; values of at most 1,000 \
             characters, no control characters but tab and line breaks; at most 16 KiB (UTF-8) \
             of names and values together.",
        ))
        .max_properties(Some(MAX_ATTRIBUTES))
        .additional_properties(Some(value))
        .property_names(Some(name))
        .build()
}
