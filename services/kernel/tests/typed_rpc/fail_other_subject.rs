// A request type has one subject: a second request cannot be sent to it in its place.
use ttx_kernel::bus::Bus;
use ttx_kernel::rpc::call;
use ttx_proto::listings::v1::{GetResult, SubmitResult};

#[allow(dead_code)]
async fn caller(bus: &dyn Bus) {
    let _ = call::<SubmitResult>(bus, &GetResult::default()).await;
}

fn main() {}
