//! What the campaign tests share: a company set up to send campaigns, drafts, and reads of
//! what a campaign queued.

use std::collections::BTreeMap;

use ulak_core::CountryType;
use ulak_core::model::*;
use ulak_engine::campaign::Audience;
use ulak_store::{Campaign, CampaignQueueing, NewCampaign, Store};

use super::{account, funded_default};

/// The default company with `credit`, a provider account, a default sender header, and a
/// group of `members` subscribers (the second one opted out) named `Üye i`.
pub async fn setup(s: &Store, credit: i64, members: usize) -> (CompanyId, GroupId) {
    let c = funded_default(s, credit).await;
    account(s, c, |_| {}).await;
    s.create_sender_header(c, NewSenderHeader::new("ULAK", true).unwrap())
        .await
        .unwrap();
    let g = s
        .create_group(c, GroupName::parse("Üyeler").unwrap(), None)
        .await
        .unwrap()
        .id;
    if members > 0 {
        add_members(s, c, g, 0, members).await;
    }
    (c, g)
}

/// Adds subscribers `from..from + n` (phones 0533000iiii) to group `g`.
pub async fn add_members(s: &Store, c: CompanyId, g: GroupId, from: usize, n: usize) {
    let mut ids = Vec::new();
    for i in from..from + n {
        let consent = if i == 1 {
            Consent::OptedOut
        } else {
            Consent::OptedIn
        };
        let new = NewSubscriber::new(
            &format!("Üye {i}"),
            &format!("0533000{i:04}"),
            CountryType::Tr,
            None,
            BTreeMap::new(),
            consent,
        )
        .unwrap();
        ids.push(s.create_subscriber(c, new).await.unwrap().id);
    }
    s.add_group_members(c, g, &ids).await.unwrap();
}

pub async fn draft(s: &Store, c: CompanyId, audience: &Audience, text: &str) -> Campaign {
    s.create_campaign(
        c,
        NewCampaign {
            name: "Kampanya".into(),
            sender: None,
            body: text.into(),
            audience: serde_json::to_string(audience).unwrap(),
            scheduled_at: None,
            validity_s: 3600,
            preview: false,
        },
    )
    .await
    .unwrap()
}

/// Every recipient the campaign has a message for (skipped ones left out).
pub async fn recipients(s: &Store, k: &Campaign) -> Vec<String> {
    let mut out = Vec::new();
    s.for_each_campaign_recipient(k.company_id, k.id, |_, address| {
        out.push(address.to_owned());
    })
    .await
    .unwrap();
    out
}

pub async fn queue(s: &Store, k: &Campaign) -> CampaignQueueing {
    s.campaign_queueing(k.company_id, k.id)
        .await
        .unwrap()
        .unwrap()
}

pub async fn counts(s: &Store, k: &Campaign) -> BTreeMap<String, i64> {
    s.campaign_counts(k.company_id, k.id).await.unwrap()
}

pub async fn balance(s: &Store, c: CompanyId) -> i64 {
    let b = s.credit_balance(c).await.unwrap();
    assert_eq!(
        b,
        s.credit_ledger_sum(c).await.unwrap(),
        "balance == ledger"
    );
    b
}
