//! Tells the app's other tabs that this tab stored something, so every tab shows the same
//! state at once without reloading and without a request of its own (BroadcastChannel).

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{BroadcastChannel, MessageEvent};

/// The channel's name (one per origin).
pub use crate::data::shared_names::CHANNEL;

/// What one tab tells the others; sent as a plain string `kind:account[:token]`. The
/// channel never leaves this origin's documents, like the IndexedDB the token lives in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TabMessage {
    /// The profile record of this account changed in IndexedDB: read it again.
    Profile(String),
    /// This account signed out on this device.
    SignedOut(String),
    /// This account signed in again (after its session ended): its new token.
    SignedIn(String, String),
    /// Another tab changed the settings: re-read them from the store.
    Settings,
}

impl TabMessage {
    fn encode(&self) -> String {
        match self {
            TabMessage::Profile(a) => format!("profile:{a}"),
            TabMessage::SignedOut(a) => format!("signed-out:{a}"),
            TabMessage::SignedIn(a, token) => format!("signed-in:{a}:{token}"),
            TabMessage::Settings => "settings:".to_owned(),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let (kind, account) = text.split_once(':')?;
        match kind {
            "profile" => Some(TabMessage::Profile(account.to_owned())),
            "signed-out" => Some(TabMessage::SignedOut(account.to_owned())),
            "signed-in" => {
                let (account, token) = account.split_once(':')?;
                Some(TabMessage::SignedIn(account.to_owned(), token.to_owned()))
            }
            "settings" => Some(TabMessage::Settings),
            _ => None,
        }
    }
}

/// This tab's end of the channel. Messages it posts reach every other `TabChannel` of the
/// origin (other tabs, or other instances in this page) but not itself.
pub struct TabChannel {
    channel: Option<BroadcastChannel>,
    _listener: Option<Closure<dyn FnMut(MessageEvent)>>,
}

impl TabChannel {
    /// Opens the channel and calls `on_message` for every message from elsewhere. Where
    /// BroadcastChannel is missing, tabs fall back to the next sync to converge.
    pub fn open(on_message: impl Fn(TabMessage) + 'static) -> Self {
        let Ok(channel) = BroadcastChannel::new(CHANNEL) else {
            return Self {
                channel: None,
                _listener: None,
            };
        };
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(message) = event
                .data()
                .as_string()
                .and_then(|t| TabMessage::decode(&t))
            {
                on_message(message);
            }
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        Self {
            channel: Some(channel),
            _listener: Some(listener),
        }
    }

    /// Tells the other tabs.
    pub fn post(&self, message: &TabMessage) {
        if let Some(channel) = &self.channel {
            let _ = channel.post_message(&message.encode().into());
        }
    }
}

impl Drop for TabChannel {
    fn drop(&mut self) {
        if let Some(channel) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[wasm_bindgen_test::wasm_bindgen_test]
    fn messages_round_trip() {
        for m in [
            TabMessage::Profile("ann".into()),
            TabMessage::SignedOut("bob".into()),
            TabMessage::SignedIn("bob".into(), "t0k3n".into()),
            TabMessage::Settings,
        ] {
            assert_eq!(TabMessage::decode(&m.encode()), Some(m));
        }
        assert_eq!(TabMessage::decode("nonsense"), None);
    }
}
