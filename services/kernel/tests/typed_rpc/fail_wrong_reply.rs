// A creation answers CommandAccepted, not the result's view.
use ttx_kernel::bus::Bus;
use ttx_kernel::rpc::call;
use ttx_proto::listings::v1::{CreateResult, ResultView};

#[allow(dead_code)]
async fn caller(bus: &dyn Bus) {
    let _view: ResultView = call(bus, &CreateResult::default()).await.unwrap();
}

fn main() {}
