//! `ulak campaign export`: a campaign's CSV, written as it arrives.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::api::Client;
use super::out::write_out_bytes;

/// Downloads campaign `id`'s CSV to `output`, or to standard output. A file is written
/// beside its name first (`<name>.part`) and renamed when the transfer is complete, so a
/// cut transfer never leaves a file that looks whole. On standard output a closed pipe
/// (`| head`) ends the download quietly.
pub(crate) async fn campaign(c: &Client, id: i64, output: Option<&Path>) -> anyhow::Result<()> {
    let mut res = c.get_streamed(&format!("/campaigns/{id}/export")).await?;
    let Some(path) = output else {
        while let Some(chunk) = res.chunk().await.map_err(|e| c.cut(e))? {
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
        while let Some(chunk) = res.chunk().await.map_err(|e| c.cut(e))? {
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
