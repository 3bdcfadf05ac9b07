//! CIM status codes (`CIM_ERR_*`, DSP0200 / DSP0004) and the error type that
//! operations return to clients as an `ERROR` element.

use std::fmt;

/// A CIM status code. Values follow DSP0200 (1..17 classic, 20..28 added by
/// the pull operations of DSP0200 1.3/1.4); 18 and 19 are unused there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CimStatus {
    Failed,
    AccessDenied,
    InvalidNamespace,
    InvalidParameter,
    InvalidClass,
    NotFound,
    NotSupported,
    ClassHasChildren,
    ClassHasInstances,
    InvalidSuperclass,
    AlreadyExists,
    NoSuchProperty,
    TypeMismatch,
    QueryLanguageNotSupported,
    InvalidQuery,
    MethodNotAvailable,
    MethodNotFound,
    NamespaceNotEmpty,
    InvalidEnumerationContext,
    InvalidOperationTimeout,
    PullHasBeenAbandoned,
    PullCannotBeAbandoned,
    FilteredEnumerationNotSupported,
    ContinuationOnErrorNotSupported,
    ServerLimitsExceeded,
    ServerIsShuttingDown,
}

impl CimStatus {
    const ALL: [CimStatus; 26] = [
        CimStatus::Failed,
        CimStatus::AccessDenied,
        CimStatus::InvalidNamespace,
        CimStatus::InvalidParameter,
        CimStatus::InvalidClass,
        CimStatus::NotFound,
        CimStatus::NotSupported,
        CimStatus::ClassHasChildren,
        CimStatus::ClassHasInstances,
        CimStatus::InvalidSuperclass,
        CimStatus::AlreadyExists,
        CimStatus::NoSuchProperty,
        CimStatus::TypeMismatch,
        CimStatus::QueryLanguageNotSupported,
        CimStatus::InvalidQuery,
        CimStatus::MethodNotAvailable,
        CimStatus::MethodNotFound,
        CimStatus::NamespaceNotEmpty,
        CimStatus::InvalidEnumerationContext,
        CimStatus::InvalidOperationTimeout,
        CimStatus::PullHasBeenAbandoned,
        CimStatus::PullCannotBeAbandoned,
        CimStatus::FilteredEnumerationNotSupported,
        CimStatus::ContinuationOnErrorNotSupported,
        CimStatus::ServerLimitsExceeded,
        CimStatus::ServerIsShuttingDown,
    ];

    /// The numeric code carried in `ERROR CODE=".."`.
    pub fn code(self) -> u32 {
        match self {
            CimStatus::Failed => 1,
            CimStatus::AccessDenied => 2,
            CimStatus::InvalidNamespace => 3,
            CimStatus::InvalidParameter => 4,
            CimStatus::InvalidClass => 5,
            CimStatus::NotFound => 6,
            CimStatus::NotSupported => 7,
            CimStatus::ClassHasChildren => 8,
            CimStatus::ClassHasInstances => 9,
            CimStatus::InvalidSuperclass => 10,
            CimStatus::AlreadyExists => 11,
            CimStatus::NoSuchProperty => 12,
            CimStatus::TypeMismatch => 13,
            CimStatus::QueryLanguageNotSupported => 14,
            CimStatus::InvalidQuery => 15,
            CimStatus::MethodNotAvailable => 16,
            CimStatus::MethodNotFound => 17,
            CimStatus::NamespaceNotEmpty => 20,
            CimStatus::InvalidEnumerationContext => 21,
            CimStatus::InvalidOperationTimeout => 22,
            CimStatus::PullHasBeenAbandoned => 23,
            CimStatus::PullCannotBeAbandoned => 24,
            CimStatus::FilteredEnumerationNotSupported => 25,
            CimStatus::ContinuationOnErrorNotSupported => 26,
            CimStatus::ServerLimitsExceeded => 27,
            CimStatus::ServerIsShuttingDown => 28,
        }
    }

    /// Inverse of [`CimStatus::code`]; `None` for codes DSP0200 does not define.
    pub fn from_code(code: u32) -> Option<CimStatus> {
        Self::ALL.iter().copied().find(|s| s.code() == code)
    }

    /// The symbolic name, e.g. `CIM_ERR_NOT_FOUND`.
    pub fn name(self) -> &'static str {
        match self {
            CimStatus::Failed => "CIM_ERR_FAILED",
            CimStatus::AccessDenied => "CIM_ERR_ACCESS_DENIED",
            CimStatus::InvalidNamespace => "CIM_ERR_INVALID_NAMESPACE",
            CimStatus::InvalidParameter => "CIM_ERR_INVALID_PARAMETER",
            CimStatus::InvalidClass => "CIM_ERR_INVALID_CLASS",
            CimStatus::NotFound => "CIM_ERR_NOT_FOUND",
            CimStatus::NotSupported => "CIM_ERR_NOT_SUPPORTED",
            CimStatus::ClassHasChildren => "CIM_ERR_CLASS_HAS_CHILDREN",
            CimStatus::ClassHasInstances => "CIM_ERR_CLASS_HAS_INSTANCES",
            CimStatus::InvalidSuperclass => "CIM_ERR_INVALID_SUPERCLASS",
            CimStatus::AlreadyExists => "CIM_ERR_ALREADY_EXISTS",
            CimStatus::NoSuchProperty => "CIM_ERR_NO_SUCH_PROPERTY",
            CimStatus::TypeMismatch => "CIM_ERR_TYPE_MISMATCH",
            CimStatus::QueryLanguageNotSupported => "CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED",
            CimStatus::InvalidQuery => "CIM_ERR_INVALID_QUERY",
            CimStatus::MethodNotAvailable => "CIM_ERR_METHOD_NOT_AVAILABLE",
            CimStatus::MethodNotFound => "CIM_ERR_METHOD_NOT_FOUND",
            CimStatus::NamespaceNotEmpty => "CIM_ERR_NAMESPACE_NOT_EMPTY",
            CimStatus::InvalidEnumerationContext => "CIM_ERR_INVALID_ENUMERATION_CONTEXT",
            CimStatus::InvalidOperationTimeout => "CIM_ERR_INVALID_OPERATION_TIMEOUT",
            CimStatus::PullHasBeenAbandoned => "CIM_ERR_PULL_HAS_BEEN_ABANDONED",
            CimStatus::PullCannotBeAbandoned => "CIM_ERR_PULL_CANNOT_BE_ABANDONED",
            CimStatus::FilteredEnumerationNotSupported => {
                "CIM_ERR_FILTERED_ENUMERATION_NOT_SUPPORTED"
            }
            CimStatus::ContinuationOnErrorNotSupported => {
                "CIM_ERR_CONTINUATION_ON_ERROR_NOT_SUPPORTED"
            }
            CimStatus::ServerLimitsExceeded => "CIM_ERR_SERVER_LIMITS_EXCEEDED",
            CimStatus::ServerIsShuttingDown => "CIM_ERR_SERVER_IS_SHUTTING_DOWN",
        }
    }
}

impl fmt::Display for CimStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

/// An error returned by a CIM operation: a status plus an optional
/// human-readable description (the `DESCRIPTION` attribute of `ERROR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {description}")]
pub struct CimError {
    pub status: CimStatus,
    pub description: String,
}

impl CimError {
    pub fn new(status: CimStatus, description: impl Into<String>) -> Self {
        CimError {
            status,
            description: description.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_dsp0200() {
        for s in CimStatus::ALL {
            assert_eq!(CimStatus::from_code(s.code()), Some(s));
        }
        assert_eq!(CimStatus::MethodNotFound.code(), 17);
        assert_eq!(CimStatus::InvalidEnumerationContext.code(), 21);
        assert_eq!(CimStatus::ServerIsShuttingDown.code(), 28);
        assert_eq!(CimStatus::from_code(18), None);
        assert_eq!(CimStatus::from_code(0), None);
    }
}
