//! `ttx demo`: a small, realistic exchange to try every role at once: an operator, universities and an institute,
//! enterprises, a pilot base and a regulator, with users in each role. It goes through the identity service's own
//! commands (the sample exchange of `ttx-seed`, which the tests use too), so the log holds exactly what the API would
//! have written. Passwords are random and printed once; running it again leaves what exists alone.

use std::sync::Arc;

use ttx_kernel::{Clock, SystemClock};

use crate::config::Config;

fn password() -> String {
    // 16 characters from an alphabet without look-alikes.
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}

pub async fn demo(config: &Config) -> anyhow::Result<()> {
    let log = crate::serve::open_log(config).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let people = ttx_seed::identity(log.clone(), clock.clone(), |_| password()).await?;
    println!(
        "TTX demo exchange in {}:",
        if config.nats.url.is_empty() { config.data_dir.display().to_string() } else { config.nats.url.clone() }
    );
    println!();
    println!("{:<12} {:<20} {:<26} organisation", "login", "password", "role");
    for (user, password) in people {
        let shown = password.unwrap_or_else(|| "(exists; unchanged)".to_owned());
        let roles: Vec<&str> = user.roles.iter().map(|r| ttx_gateway::api::identity::role_name(*r)).collect();
        println!("{:<12} {shown:<20} {:<26} {}", user.login, roles.join("+"), ttx_seed::ORGS[user.org].name);
    }
    ttx_seed::identity_extras(log.clone(), clock.clone()).await?;
    let listings = ttx_seed::listings(log.clone(), clock.clone()).await?;
    if let Some(why) = listings.notice_not_started {
        println!("demo: no notice started: {why}");
    }
    println!(
        "listings: 6 published results (one under public notice), 1 awaiting review, 1 demand, 1 challenge; \
         try the search page with 锂电池"
    );
    match ttx_seed::auction(log, clock).await? {
        ttx_seed::Auction::Opened => {
            println!("negotiation: an open bidding session on 固态锂电池硫化物电解质制备工艺 (/sessions/demo-auction)")
        }
        ttx_seed::Auction::Existed => println!("negotiation: the bidding session exists (unchanged)"),
    }
    println!();
    println!(
        "Start the exchange with `ttx serve` (same --data-dir or --nats) and log in at http://{}/login",
        config.http.listen
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn demo_passwords_are_random() {
        assert_ne!(super::password(), super::password());
    }
}
