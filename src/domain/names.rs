//! Closed sets of names stored and sent as text (statuses, causes, kinds): one macro gives each
//! its snake_case text, parsing and serde, so no status is ever compared as a string.

/// Declares an enum whose variants are written as the given texts everywhere: in the database,
/// in JSON and in logs. Adds `ALL`, `as_str`, `parse` and `Display`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The text stored and sent for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }

            /// The value written as `text`, if any (callable without importing [`Named`]).
            pub fn parse(text: &str) -> Option<Self> {
                <Self as $crate::domain::names::Named>::parse(text)
            }
        }

        impl $crate::domain::names::Named for $name {
            const ALL: &'static [Self] = $name::ALL;

            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use named_enum;

/// A closed set of names (what [`named_enum!`] declares), for code that handles any of them,
/// such as a query parameter listing statuses.
pub trait Named: Copy + PartialEq + 'static {
    const ALL: &'static [Self];

    fn as_str(self) -> &'static str;

    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == text)
    }
}
