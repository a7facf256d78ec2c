//! The inbox over the API: an inbound message whose text could not be decoded is listed with
//! its bytes.

use ulak_store::{DEFAULT_COMPANY, InboundIn, Store};

use crate::helpers::{ADMIN_KEY, spawn_app};

#[tokio::test]
async fn an_undecodable_inbound_message_is_listed_with_its_bytes() {
    let app = spawn_app().await;
    // The engine stores inbound messages straight into the store; do the same here.
    let url = format!("sqlite://{}?mode=rwc", app.dir.join("ulak.db").display());
    let store = Store::connect(&url, [0; 32]).await.unwrap();
    let company = store
        .get_company_by_name(DEFAULT_COMPANY)
        .await
        .unwrap()
        .unwrap()
        .id;
    let inbound = |body: &str, raw: Option<Vec<u8>>, dcs: u8| InboundIn {
        sender: "905321112233".into(),
        recipient: "4545".into(),
        body: body.into(),
        body_raw: raw,
        data_coding: Some(dcs),
        complete: true,
    };
    store
        .store_inbound(
            company,
            None,
            vec![
                inbound("", Some(vec![0x00, 0xff, 0x10, 0xab]), 4),
                inbound("Merhaba", None, 0),
            ],
        )
        .await
        .unwrap();
    store.close().await;
    let a = app.call("GET", "/inbound", ADMIN_KEY, None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let items = a.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", a.body);
    assert_eq!(
        (
            &items[0]["text"],
            &items[0]["body_raw"],
            &items[0]["data_coding"]
        ),
        (&"".into(), &"00ff10ab".into(), &4.into())
    );
    assert_eq!(items[1]["text"], "Merhaba");
    assert!(items[1].get("body_raw").is_none(), "{}", items[1]);
}
