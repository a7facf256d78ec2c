//! Closed sets of stable names (states, kinds, zones…): one declaration gives an enum its
//! `as_str`, `FromStr` (an unknown name is `value.invalid`, listing the names) and `Display`.

/// Declares `as_str`/`FromStr`/`Display` for a snake-case enum.
macro_rules! stable_names {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// Stable name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl ::std::str::FromStr for $t {
            type Err = $crate::model::RuleError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($s => Ok(Self::$v),)*
                    _ => Err($crate::model::RuleError::new(
                        $crate::Code::ValueInvalid,
                        concat!("expected one of:", $(" ", $s),*),
                    )),
                }
            }
        }
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
