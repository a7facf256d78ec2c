//! Long messages sent part by part against the simulator over real TCP: its fault that
//! refuses segment N of some long messages once, its tally of the segments each handset got,
//! and the client's bodies built again under one reference (UDH and SAR).
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ulak_smpp::CommandStatus;
use ulak_smpp::client::{Client, ClientConfig, LongText, SubmitError, TextMessage};
use ulak_smpp::sim::{RefuseSegment, SegmentKey, SimConfig, Simulator};

fn text_to(i: usize) -> TextMessage {
    TextMessage {
        from: "ULAK".into(),
        to: format!("+90532555{i:04}"),
        text: format!("Kampanya duyurusu {i}. ").repeat(18),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_segment_sent_again_under_its_reference_reaches_the_handset_once() {
    for mode in [LongText::Udh, LongText::Sar] {
        let sim = Simulator::start(SimConfig {
            refuse_segment: Some(RefuseSegment { seq: 2, every: 2 }),
            record_submits: true,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let (c, _events) = Client::start(ClientConfig {
            addr: sim.local_addr().to_string(),
            system_id: "ulak".into(),
            password: "secret".into(),
            long_text: mode,
            ..Default::default()
        });
        assert!(c.wait_bound(Duration::from_secs(5)).await);
        // Four messages of three segments, each under its own reference (below 256: UDH references are 8-bit), one after another.
        let mut refused = Vec::new();
        for i in 0..4 {
            let reference = 70 + i as u16;
            let bodies = c.text_submits(&text_to(i), reference).unwrap();
            assert_eq!(bodies.len(), 3, "{mode:?}");
            for (k, body) in bodies.into_iter().enumerate() {
                match c.enqueue(body).await.unwrap().outcome().await {
                    Ok(_) => {}
                    Err(SubmitError::Rejected(CommandStatus::ESME_RSYSERR)) => {
                        refused.push((i, reference, k))
                    }
                    Err(e) => panic!("{mode:?}: {e}"),
                }
            }
        }
        // The first and third long messages seen lose segment 2, once.
        assert_eq!(refused, vec![(0, 70, 1), (2, 72, 1)], "{mode:?}");
        assert_eq!(sim.counts().refused_segments, 2);
        // Built again with the same reference, the segment is the same; now it is taken.
        for (i, reference, k) in refused {
            let again = c.text_submits(&text_to(i), reference).unwrap();
            assert_eq!(again, c.text_submits(&text_to(i), reference).unwrap());
            let body = again.into_iter().nth(k).unwrap();
            c.enqueue(body).await.unwrap().outcome().await.unwrap();
        }
        let tally = sim.segments_received();
        let want: Vec<(SegmentKey, u32)> = (0..4)
            .flat_map(|i| {
                (1..=3).map(move |seq| {
                    let key = SegmentKey {
                        dest: format!("90532555{i:04}"),
                        reference: 70 + i as u16,
                        total: 3,
                        seq,
                    };
                    (key, 1)
                })
            })
            .collect();
        assert_eq!(tally.into_iter().collect::<Vec<_>>(), want, "{mode:?}");
        // A segment sent twice shows as such.
        let first = c.text_submits(&text_to(1), 71).unwrap().remove(0);
        c.enqueue(first).await.unwrap().outcome().await.unwrap();
        let twice: Vec<_> = sim
            .segments_received()
            .into_iter()
            .filter(|(_, n)| *n > 1)
            .collect();
        assert_eq!(twice.len(), 1);
        assert_eq!((twice[0].0.reference, twice[0].0.seq), (71, 1));
        c.shutdown().await;
        sim.shutdown().await;
    }
}
