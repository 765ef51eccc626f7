//! `string_request!`: declares a request whose body is only string fields, each a
//! `String` (a `u16`-length string) or an `Option<String>` (a presence tag, then the
//! string), in declaration order. The bucket, key, version and user requests that carry
//! nothing else are declared with it, so each field's encoding is written once.

use crate::codec::{BodyError, Field, Reader, Writer};

/// How one string field of a `string_request!` body is encoded.
pub(crate) trait StringField: Sized {
    fn write_field(&self, w: &mut Writer<'_>, field: Field) -> Result<(), BodyError>;
    fn read_field(r: &mut Reader<'_>, field: Field) -> Result<Self, BodyError>;
}

impl StringField for String {
    fn write_field(&self, w: &mut Writer<'_>, field: Field) -> Result<(), BodyError> {
        w.string(field, self)
    }
    fn read_field(r: &mut Reader<'_>, field: Field) -> Result<Self, BodyError> {
        r.string(field)
    }
}

impl StringField for Option<String> {
    fn write_field(&self, w: &mut Writer<'_>, field: Field) -> Result<(), BodyError> {
        w.opt_string(field, self.as_deref())
    }
    fn read_field(r: &mut Reader<'_>, field: Field) -> Result<Self, BodyError> {
        r.opt_string(field)
    }
}

/// `string_request!(/// docs  Name { field: Type = FieldKind, ... }, opcode, Response);`
macro_rules! string_request {
    (
        $(#[$doc:meta])* $name:ident { $($field:ident: $ty:ty = $kind:ident),+ $(,)? },
        $opcode:expr, $response:ty
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            $(pub $field: $ty,)+
        }

        impl $crate::codec::Body for $name {
            fn write(
                &self,
                w: &mut $crate::codec::Writer<'_>,
            ) -> Result<(), $crate::codec::BodyError> {
                use $crate::string_request::StringField as _;
                $(self.$field.write_field(w, $crate::codec::Field::$kind)?;)+
                Ok(())
            }
            fn read(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::codec::BodyError> {
                use $crate::string_request::StringField;
                Ok($name {
                    $($field: <$ty as StringField>::read_field(r, $crate::codec::Field::$kind)?,)+
                })
            }
        }

        impl $crate::codec::Request for $name {
            const OPCODE: $crate::opcode::Opcode = $opcode;
            type Response = $response;
        }
    };
}
