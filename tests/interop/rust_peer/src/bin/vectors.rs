//! Prints the BytesConvertable and RactorClusterMessage encodings of a fixed set of values,
//! as JSON lines, computed by the real ractor / ractor_cluster crates. The Python suite keeps
//! the output in tests/ractor_derive/vectors/ and compares its own codecs with it.

use ractor::message::SerializedMessage;
use ractor::{BytesConvertable, Message, RpcReplyPort};
use ractor_cluster::RactorClusterMessage;
use serde_json::{json, Value};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn value<T: BytesConvertable>(ty: &str, v: T, shown: Value) {
    let bytes = v.into_bytes();
    println!("{}", json!({"kind": "value", "type": ty, "value": shown, "hex": hex(&bytes)}));
}

fn float_text(v: f64) -> Value {
    if v.is_nan() {
        json!("nan")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "inf" } else { "-inf" })
    } else {
        json!(format!("{v:?}"))
    }
}

/// A protobuf message, as `derive_serialization_for_prost_type!` users declare them.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Point {
    #[prost(int32, tag = "1")]
    pub x: i32,
    #[prost(string, tag = "2")]
    pub label: String,
}
ractor_cluster::derive_serialization_for_prost_type! {Point}

/// Covers unit, tuple-like, several fields, named fields, the reply port first, prost fields.
#[derive(RactorClusterMessage)]
pub enum Sample {
    Unit,
    Hey(String),
    Several(u8, i64, bool, Vec<u16>),
    Named { id: u128, ch: char, ratio: f32 },
    WithPoint(Point),
    #[rpc]
    IsDone(RpcReplyPort<bool>),
    #[rpc]
    PortFirst(RpcReplyPort<Vec<i8>>, Vec<u8>, Vec<u32>),
    #[rpc]
    Lookup(String, RpcReplyPort<u64>),
    #[rpc]
    Describe(i32, RpcReplyPort<String>, char),
}

fn message(name: &str, msg: Sample) {
    match msg.serialize().expect("serializable") {
        SerializedMessage::Cast { variant, args, .. } => println!(
            "{}",
            json!({"kind": "message", "name": name, "call": false, "variant": variant, "args": hex(&args)})
        ),
        SerializedMessage::Call { variant, args, .. } => println!(
            "{}",
            json!({"kind": "message", "name": name, "call": true, "variant": variant, "args": hex(&args)})
        ),
        SerializedMessage::CallReply(..) => unreachable!(),
    }
}

fn port<T: Send + 'static>() -> RpcReplyPort<T> {
    let (tx, _rx) = ractor::concurrency::oneshot();
    RpcReplyPort::from(tx)
}

#[tokio::main]
async fn main() {
    for v in [0u8, 1, 127, 255] {
        value("u8", v, json!(v));
    }
    for v in [0u16, 258, u16::MAX] {
        value("u16", v, json!(v));
    }
    for v in [0u32, 1, 0xdead_beef, u32::MAX] {
        value("u32", v, json!(v));
    }
    for v in [0u64, 5, 1 << 40, u64::MAX] {
        value("u64", v, json!(v));
    }
    for v in [0u128, 1, u128::MAX, 1u128 << 100] {
        value("u128", v, json!(v.to_string()));
    }
    for v in [0i8, -1, i8::MIN, i8::MAX] {
        value("i8", v, json!(v));
    }
    for v in [0i16, -2, i16::MIN, i16::MAX] {
        value("i16", v, json!(v));
    }
    for v in [0i32, -3, i32::MIN, i32::MAX] {
        value("i32", v, json!(v));
    }
    for v in [0i64, -4, i64::MIN, i64::MAX] {
        value("i64", v, json!(v));
    }
    for v in [0i128, -5, i128::MIN, i128::MAX] {
        value("i128", v, json!(v.to_string()));
    }
    for v in [0.0f32, -0.0, 1.5, -2.25, f32::MAX, f32::MIN_POSITIVE, f32::INFINITY, f32::NAN] {
        value("f32", v, float_text(v as f64));
    }
    for v in [0.0f64, -0.0, 0.1, -1e300, f64::MIN_POSITIVE, f64::NEG_INFINITY, f64::NAN] {
        value("f64", v, float_text(v));
    }
    value("bool", true, json!(true));
    value("bool", false, json!(false));
    for v in ['a', 'é', '€', '😀', '\0'] {
        value("char", v, json!(v.to_string()));
    }
    for v in ["", "Hey there", "héllo wörld €", "😀 emoji"] {
        value("String", v.to_string(), json!(v));
    }
    value("()", (), Value::Null);
    value("Vec<u8>", vec![0u8, 5, 255], json!([0, 5, 255]));
    value("Vec<u8>", Vec::<u8>::new(), json!([]));
    value("Vec<i8>", vec![-1i8, 0, 127], json!([-1, 0, 127]));
    value("Vec<u16>", vec![1u16, 65535], json!([1, 65535]));
    value("Vec<i16>", vec![-1i16, 300], json!([-1, 300]));
    value("Vec<u32>", vec![1u32, 2, 3, 4], json!([1, 2, 3, 4]));
    value("Vec<i32>", vec![-7i32], json!([-7]));
    value("Vec<u64>", vec![u64::MAX, 0], json!([u64::MAX, 0]));
    value("Vec<i64>", vec![i64::MIN, 1], json!([i64::MIN, 1]));
    value("Vec<u128>", vec![u128::MAX], json!([u128::MAX.to_string()]));
    value("Vec<i128>", vec![-1i128, 2], json!(["-1", "2"]));
    value("Vec<f32>", vec![1.0f32, -0.5], json!(["1.0", "-0.5"]));
    value("Vec<f64>", vec![0.25f64, -0.0], json!(["0.25", "-0.0"]));
    value("Vec<bool>", vec![true, false, true], json!([true, false, true]));
    value("Vec<char>", vec!['x', 'ÿ', '😀'], json!(["x", "ÿ", "😀"]));
    value("Point", Point { x: -3, label: "p".into() }, json!({"x": -3, "label": "p"}));
    value("Point", Point { x: 0, label: String::new() }, json!({"x": 0, "label": ""}));

    message("Unit", Sample::Unit);
    message("Hey", Sample::Hey("Hey there".into()));
    message("Several", Sample::Several(7, -2, true, vec![1, 2]));
    message("Named", Sample::Named { id: u128::MAX, ch: 'z', ratio: 0.5 });
    message("WithPoint", Sample::WithPoint(Point { x: 150, label: "hi".into() }));
    message("IsDone", Sample::IsDone(port()));
    message("PortFirst", Sample::PortFirst(port(), vec![0, 5], vec![1, 2, 3, 4]));
    message("Lookup", Sample::Lookup("key".into(), port()));
    message("Describe", Sample::Describe(-1, port(), 'q'));
}
