//! Compiles the Rust enums that `ractor-derive gen --lang rust` wrote for the golden test
//! declarations (tests/ractor_derive/golden/expected/kitchen.rs) against ractor and
//! ractor_cluster from crates.io, and checks one variant's serialization at run time.

use ractor::message::SerializedMessage;
use ractor::Message;

/// The prost message the declarations use: control.Actor of the cluster protocol.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Actor {
    #[prost(uint64, tag = "1")]
    pub pid: u64,
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
}
ractor_cluster::derive_serialization_for_prost_type! {Actor}

#[path = "../../../../ractor_derive/golden/expected/kitchen.rs"]
mod kitchen;

fn main() {
    let msg = kitchen::Kitchen::Advertised(Actor { pid: 5, name: Some("n".into()) });
    match msg.serialize().expect("serializable") {
        SerializedMessage::Cast { variant, args, .. } => {
            let hex: String = args.iter().map(|b| format!("{b:02x}")).collect();
            println!("{variant} {hex}");
        }
        _ => unreachable!(),
    }
}
