//! Malformed PDUs on a live link: answered with the right status, link kept (or closed
//! with generic_nack when the framing itself is broken). Both sides: simulator and client.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ulak_smpp::CommandStatus;
use ulak_smpp::client::{Client, ClientConfig};
use ulak_smpp::pdu::{Bind, BindResp, Body, Pdu, command_id};
use ulak_smpp::sim::{SimConfig, Simulator};

async fn read_pdu(s: &mut TcpStream) -> Option<Pdu> {
    let mut len = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let n = u32::from_be_bytes(len) as usize;
    let mut rest = vec![0u8; n - 4];
    s.read_exact(&mut rest).await.ok()?;
    let mut all = len.to_vec();
    all.extend_from_slice(&rest);
    Some(Pdu::decode(Bytes::from(all)).unwrap())
}

fn raw(cmd: u32, seq: u32, body: &[u8]) -> Vec<u8> {
    let mut b = ((16 + body.len()) as u32).to_be_bytes().to_vec();
    b.extend_from_slice(&cmd.to_be_bytes());
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(body);
    b
}

#[tokio::test]
async fn simulator_answers_malformed_pdus_and_keeps_the_link() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let mut s = TcpStream::connect(sim.local_addr()).await.unwrap();
    let bind = Pdu::new(
        1,
        Body::BindTransceiver(Bind {
            system_id: "ulak".into(),
            password: "secret".into(),
            ..Default::default()
        }),
    );
    s.write_all(&bind.to_bytes()).await.unwrap();
    assert!(read_pdu(&mut s).await.unwrap().status.is_ok());

    // submit_sm cut short inside its addresses.
    s.write_all(&raw(command_id::SUBMIT_SM, 2, b"\0\x05\0UL"))
        .await
        .unwrap();
    let r = read_pdu(&mut s).await.unwrap();
    assert_eq!(
        (r.command_id(), r.sequence),
        (command_id::SUBMIT_SM_RESP, 2)
    );
    assert_eq!(r.status, CommandStatus::ESME_RINVMSGLEN);

    // An unknown command id gets generic_nack ESME_RINVCMDID.
    s.write_all(&raw(0x0000_0999, 3, b"")).await.unwrap();
    let r = read_pdu(&mut s).await.unwrap();
    assert_eq!(
        (r.body, r.sequence, r.status),
        (Body::GenericNack, 3, CommandStatus::ESME_RINVCMDID)
    );

    // The link still works.
    s.write_all(&Pdu::new(4, Body::EnquireLink).to_bytes())
        .await
        .unwrap();
    assert_eq!(read_pdu(&mut s).await.unwrap().body, Body::EnquireLinkResp);

    // A command_length of 8 cannot be framed: generic_nack ESME_RINVCMDLEN, then close.
    s.write_all(&[0, 0, 0, 8, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 5])
        .await
        .unwrap();
    let r = read_pdu(&mut s).await.unwrap();
    assert_eq!(
        (r.body, r.status),
        (Body::GenericNack, CommandStatus::ESME_RINVCMDLEN)
    );
    assert!(read_pdu(&mut s).await.is_none(), "link should close");
    assert_eq!(sim.counts().errors, 3);
}

#[tokio::test]
async fn client_answers_malformed_deliver_sm_and_keeps_the_link() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let smsc = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let bind = read_pdu(&mut s).await.unwrap();
        let resp = Pdu::new(
            bind.sequence,
            Body::BindTransceiverResp(BindResp::default()),
        );
        s.write_all(&resp.to_bytes()).await.unwrap();
        s.write_all(&raw(command_id::DELIVER_SM, 77, b"\0\x01\x01905"))
            .await
            .unwrap();
        let r = read_pdu(&mut s).await.unwrap();
        s.write_all(&Pdu::new(78, Body::EnquireLink).to_bytes())
            .await
            .unwrap();
        let r2 = read_pdu(&mut s).await.unwrap();
        (r, r2)
    });
    let (c, _ev) = Client::start(ClientConfig {
        addr: addr.to_string(),
        system_id: "x".into(),
        password: "y".into(),
        ..Default::default()
    });
    let (r, r2) = smsc.await.unwrap();
    assert_eq!(
        (r.command_id(), r.sequence),
        (command_id::DELIVER_SM_RESP, 77)
    );
    assert_eq!(r.status, CommandStatus::ESME_RINVMSGLEN);
    assert_eq!((r2.body, r2.sequence), (Body::EnquireLinkResp, 78));
    assert_eq!(c.stats().malformed, 1);
    assert_eq!(c.stats().link_losses, 0);
    drop(c);
}
