//! Campaigns the web UI's preview step made that never started (drafts nobody sent, drafts
//! cancelled by "Düzenle") are purged a day later, a batch at a time; a draft younger than a
//! day (a preview being looked at), drafts made through the API and every campaign that
//! started stay. Giving a preview up cancels its draft only while it is one.

use sqlx::AnyPool;
use ulak_core::CountryType;
use ulak_core::model::CampaignAction;
use ulak_store::{Campaign, NewCampaign, PREVIEW_DRAFT_MAX_AGE_MS, Store};

use crate::helpers::{TestDb, company};

crate::store_tests!(
    only_day_old_preview_drafts_are_purged,
    the_purge_goes_a_batch_at_a_time,
    a_draft_is_cancelled_only_while_it_is_one,
);

const HOUR_MS: i64 = 3600 * 1000;

async fn draft(s: &Store, c: ulak_core::model::CompanyId, preview: bool) -> Campaign {
    let new = NewCampaign {
        name: "önizleme".into(),
        sender: None,
        body: "Merhaba".into(),
        audience: "{}".into(),
        scheduled_at: None,
        validity_s: 3600,
        preview,
    };
    s.create_campaign(c, new).await.unwrap()
}

/// Makes campaign `id` as old as `ms`.
async fn age(raw: &AnyPool, id: i64, ms: i64) {
    sqlx::query("UPDATE campaigns SET created_at = created_at - $1 WHERE id = $2")
        .bind(ms)
        .bind(id)
        .execute(raw)
        .await
        .unwrap();
}

async fn only_day_old_preview_drafts_are_purged(db: &TestDb) {
    let (s, raw) = (&db.store, db.raw().await);
    let c = company(s, CountryType::Tr).await.id;
    let old = draft(s, c, true).await;
    let fresh = draft(s, c, true).await;
    let api = draft(s, c, false).await;
    let started = draft(s, c, true).await;
    s.begin_campaign_queueing(c, started.id, 0, 0, 0)
        .await
        .unwrap();
    // "Düzenle": the draft cancelled, never started; and one started, then cancelled.
    let edited = draft(s, c, true).await;
    assert!(s.cancel_draft(c, edited.id).await.unwrap());
    let stopped = draft(s, c, true).await;
    s.begin_campaign_queueing(c, stopped.id, 0, 0, 0)
        .await
        .unwrap();
    s.set_campaign_state(c, stopped.id, CampaignAction::Cancel, None)
        .await
        .unwrap();
    let day = PREVIEW_DRAFT_MAX_AGE_MS;
    for id in [old.id, api.id, started.id, edited.id, stopped.id] {
        age(&raw, id, day + HOUR_MS).await;
    }
    // Looked at right now, or an hour short of a day: kept.
    age(&raw, fresh.id, day - HOUR_MS).await;
    assert_eq!(s.purge_preview_drafts(100).await.unwrap(), 2);
    for id in [old.id, edited.id] {
        assert_eq!(s.get_campaign_lean(c, id).await.unwrap(), None, "{id}");
    }
    for id in [fresh.id, api.id, started.id, stopped.id] {
        assert!(s.get_campaign_lean(c, id).await.unwrap().is_some(), "{id}");
    }
    assert_eq!(s.purge_preview_drafts(100).await.unwrap(), 0);
    // A start after the purge finds nothing to start.
    assert!(s.begin_campaign_queueing(c, old.id, 0, 0, 0).await.is_err());
    raw.close().await;
}

async fn the_purge_goes_a_batch_at_a_time(db: &TestDb) {
    let (s, raw) = (&db.store, db.raw().await);
    let c = company(s, CountryType::Tr).await.id;
    for _ in 0..3 {
        let d = draft(s, c, true).await;
        age(&raw, d.id, PREVIEW_DRAFT_MAX_AGE_MS + HOUR_MS).await;
    }
    let ran: Vec<u64> = [
        s.purge_preview_drafts(2).await.unwrap(),
        s.purge_preview_drafts(2).await.unwrap(),
        s.purge_preview_drafts(2).await.unwrap(),
    ]
    .into();
    assert_eq!(ran, [2, 1, 0]);
    raw.close().await;
}

async fn a_draft_is_cancelled_only_while_it_is_one(db: &TestDb) {
    let s = &db.store;
    let c = company(s, CountryType::Tr).await.id;
    let other = company(s, CountryType::Tr).await.id;
    let d = draft(s, c, true).await;
    // Another company's id, or a campaign that started meanwhile: left as it is.
    assert!(!s.cancel_draft(other, d.id).await.unwrap());
    let started = draft(s, c, true).await;
    s.begin_campaign_queueing(c, started.id, 0, 0, 0)
        .await
        .unwrap();
    assert!(!s.cancel_draft(c, started.id).await.unwrap());
    let still = s.get_campaign_lean(c, started.id).await.unwrap().unwrap();
    assert_ne!(still.state, ulak_core::model::CampaignState::Cancelled);
    assert!(s.cancel_draft(c, d.id).await.unwrap());
    let gone = s.get_campaign_lean(c, d.id).await.unwrap().unwrap();
    assert_eq!(gone.state, ulak_core::model::CampaignState::Cancelled);
    assert!(!s.cancel_draft(c, d.id).await.unwrap(), "once");
}
