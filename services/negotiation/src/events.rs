//! Events as the wire messages they are stored as: each aggregate's event enum wraps one `ttx.negotiation.v1`
//! message per variant, so encoding is the message's own and the type name is the message's full name.

/// Declares an event enum over protobuf messages and its [`ttx_kernel::DomainEvent`] codec.
macro_rules! wire_events {
    ($name:ident { $($variant:ident($msg:ident)),+ $(,)? }) => {
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name {
            $($variant(ttx_proto::negotiation::v1::$msg)),+
        }

        impl ttx_kernel::DomainEvent for $name {
            fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => concat!("ttx.negotiation.v1.", stringify!($msg))),+
                }
            }

            fn encode(&self) -> bytes::Bytes {
                use prost::Message as _;
                match self {
                    $(Self::$variant(m) => m.encode_to_vec().into()),+
                }
            }

            fn decode(
                event_type: &str,
                schema_version: u32,
                payload: &[u8],
            ) -> Result<Self, ttx_kernel::DecodeError> {
                use prost::Message as _;
                let malformed = |e: prost::DecodeError| ttx_kernel::DecodeError::Malformed {
                    event_type: event_type.to_owned(),
                    reason: e.to_string(),
                };
                if schema_version != 1 {
                    return Err(ttx_kernel::DecodeError::UnknownType {
                        event_type: event_type.to_owned(),
                        schema_version,
                    });
                }
                $(
                    if event_type == concat!("ttx.negotiation.v1.", stringify!($msg)) {
                        return ttx_proto::negotiation::v1::$msg::decode(payload).map(Self::$variant).map_err(malformed);
                    }
                )+
                Err(ttx_kernel::DecodeError::UnknownType { event_type: event_type.to_owned(), schema_version })
            }
        }
    };
}

pub(crate) use wire_events;
