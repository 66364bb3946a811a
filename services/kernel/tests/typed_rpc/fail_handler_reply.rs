// A handler of GetResult must answer a ResultView.
use std::sync::Arc;

use ttx_kernel::bus::ReplyError;
use ttx_kernel::rpc::Router;
use ttx_proto::common::v1::CommandAccepted;
use ttx_proto::listings::v1::GetResult;

struct Listings;

fn main() {
    let _ = Router::new("listings", Arc::new(Listings))
        .route(|_: Arc<Listings>, _: GetResult| async { Ok::<_, ReplyError>(CommandAccepted::default()) });
}
