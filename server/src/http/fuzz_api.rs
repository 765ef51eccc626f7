//! The adapter's parsers and canonicalizers, gathered for the fuzz targets in
//! `tests/fuzz/` (not a stable API): request heads and addressing, the Range header, the
//! three signature schemes, and the XML request documents. Everything here is pure: no
//! I/O, no daemon.

pub use super::auth::sign::{same, uri_encode};
pub use super::auth::{oss_v1, oss_v4, sigv4};
pub use super::error::{oss_code, s3_code, Failure};
pub use super::ops::acl::acl_of_policy;
pub use super::ops::bucket::create_configuration;
pub use super::ops::copy::parse_source;
pub use super::ops::delete::delete_document;
pub use super::ops::get::parse_range;
pub use super::request::{decode, ApiRequest, Dialect};
pub use super::router::{route, Op};
pub use super::xml::{parse as parse_xml, Element, XmlWriter};
