use std::sync::Arc;

use ttx_kernel::bus::{Bus, ReplyError};
use ttx_kernel::rpc::{Router, call};
use ttx_proto::common::v1::CommandAccepted;
use ttx_proto::listings::v1::{CreateResult, GetResult, ResultView};

struct Listings;

#[allow(dead_code)]
async fn caller(bus: &dyn Bus) {
    let _accepted: CommandAccepted = call(bus, &CreateResult::default()).await.unwrap();
    let _view: ResultView = call(bus, &GetResult::default()).await.unwrap();
}

fn main() {
    let router = Router::new("listings", Arc::new(Listings))
        .route(|_: Arc<Listings>, _: GetResult| async { Ok::<_, ReplyError>(ResultView::default()) })
        .route(|_: Arc<Listings>, _: CreateResult| async { Ok::<_, ReplyError>(CommandAccepted::default()) });
    assert_eq!(router.subjects().count(), 2);
}
