//! `ulak campaign export`: a campaign's CSV, written as it arrives.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;

use super::api::Client;
use super::out::write_out_bytes;

impl Client {
    /// A GET whose body the caller reads as it comes (downloads); a refusal is read whole
    /// as a problem document, as [`send`](Self::send) does.
    async fn get_streamed(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        let status = res.status();
        if status.is_success() {
            return Ok(res);
        }
        let text = res.text().await.map_err(|e| self.transport(e))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        bail!(super::api::Refused(status.as_u16(), body));
    }
}

/// Downloads campaign `id`'s CSV to `output`, or to standard output. A file is written
/// beside its name first (`<name>.part`) and renamed when the transfer is complete, so a
/// cut transfer never leaves a file that looks whole. On standard output a closed pipe
/// (`| head`) ends the download quietly.
pub(crate) async fn campaign(c: &Client, id: i64, output: Option<&Path>) -> anyhow::Result<()> {
    let mut res = c.get_streamed(&format!("/campaigns/{id}/export")).await?;
    let Some(path) = output else {
        while let Some(chunk) = res.chunk().await.map_err(|e| c.transport(e))? {
            if !write_out_bytes(&chunk) {
                break;
            }
        }
        return Ok(());
    };
    let mut part = path.as_os_str().to_owned();
    part.push(".part");
    let part = std::path::PathBuf::from(part);
    let file = std::fs::File::create(&part)
        .with_context(|| format!("cannot create {}", part.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let written = async {
        while let Some(chunk) = res.chunk().await.map_err(|e| c.transport(e))? {
            w.write_all(&chunk)
                .with_context(|| format!("cannot write {}", part.display()))?;
        }
        w.flush()
            .with_context(|| format!("cannot write {}", part.display()))?;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = written {
        let _ = std::fs::remove_file(&part);
        return Err(e);
    }
    std::fs::rename(&part, path).with_context(|| format!("cannot write {}", path.display()))
}
