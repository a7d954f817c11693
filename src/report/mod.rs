//! Reports for people: the self-contained HTML page that puts video, article and transcript side
//! by side.
#![forbid(unsafe_code)]

pub mod html;
