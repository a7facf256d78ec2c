//! What a send's rules read from the store, read once per request — or once per batch: a
//! thousand sends of one company share its settings, routes and provider accounts, sender
//! headers and templates, and ask for their opt-outs in one read.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ulak_core::Msisdn;
use ulak_core::model::{
    CompanyId, ProviderAccount, Recipient, RouteId, SenderName, SmsSettings, Template, TemplateId,
    TrafficClass,
};
use ulak_store::{Routing, Store, StoreError};

use super::SendError;

/// The store's answers for one company, each read at most once.
pub(super) struct Lookups<'s> {
    store: &'s Store,
    company: CompanyId,
    /// The company's SMS settings (a send needs them before anything else).
    pub(super) settings: SmsSettings,
    routing: Option<Arc<Routing>>,
    headers: HashMap<Option<String>, Option<SenderName>>,
    templates: HashMap<i64, Option<Template>>,
    /// Opted-out numbers among a batch's recipients, read up front.
    opted_out: Option<HashSet<String>>,
}

impl<'s> Lookups<'s> {
    /// Reads the company's SMS settings (`NoSettings` without them).
    pub(super) async fn new(store: &'s Store, company: CompanyId) -> Result<Self, SendError> {
        let settings = store
            .sending_settings(company)
            .await?
            .ok_or(SendError::NoSettings)?;
        Ok(Lookups {
            store,
            company,
            settings,
            routing: None,
            headers: HashMap::new(),
            templates: HashMap::new(),
            opted_out: None,
        })
    }

    /// The account a message to `to` in lane `class` goes through and the route that chose
    /// it ([`Routing::pick`]); for an unreadable recipient, whether the company has any
    /// account at all (the first).
    pub(super) async fn account(
        &mut self,
        to: Option<&Recipient>,
        class: TrafficClass,
    ) -> Result<Option<(Option<RouteId>, ProviderAccount)>, StoreError> {
        let routing = match &self.routing {
            Some(r) => Arc::clone(r),
            None => {
                let r = self.store.sending_routing(self.company).await?;
                self.routing = Some(Arc::clone(&r));
                r
            }
        };
        Ok(match to {
            Some(to) => routing
                .pick(to, class, |_| false)
                .map(|(route, a)| (route, a.clone())),
            None => routing.accounts.first().map(|a| (None, a.clone())),
        })
    }

    /// A template of the company.
    pub(super) async fn template(&mut self, id: i64) -> Result<Option<Template>, StoreError> {
        if let Some(t) = self.templates.get(&id) {
            return Ok(t.clone());
        }
        let t = self
            .store
            .get_template(self.company, TemplateId(id))
            .await?;
        self.templates.insert(id, t.clone());
        Ok(t)
    }

    /// The sender header named `name` (`None`: the default), if the company has it.
    pub(super) async fn header(
        &mut self,
        name: Option<&str>,
    ) -> Result<Option<SenderName>, StoreError> {
        let key = name.map(str::to_owned);
        if let Some(h) = self.headers.get(&key) {
            return Ok(h.clone());
        }
        let h = self
            .store
            .sending_header(self.company, name)
            .await?
            .map(|h| h.name);
        self.headers.insert(key, h.clone());
        Ok(h)
    }

    /// Reads at once which of `phones` (E.164) opted out; later checks ask no more.
    pub(super) async fn read_opt_outs(&mut self, phones: &[&str]) -> Result<(), StoreError> {
        self.opted_out = Some(self.store.opted_out_among(self.company, phones).await?);
        Ok(())
    }

    /// Whether `m` is among the opted-out numbers read up front (`false` when none were:
    /// the accepting transaction checks).
    pub(super) fn opted_out(&self, m: &Msisdn) -> bool {
        self.opted_out
            .as_ref()
            .is_some_and(|set| set.contains(m.e164()))
    }
}
