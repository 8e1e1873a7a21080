//! A cloneable signal that the node is shutting down.

use tokio::sync::watch;

/// Triggers a [`Shutdown`].
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Resolves [`Shutdown::wait`] once the trigger fires (or is dropped).
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

pub fn shutdown_pair() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    pub async fn wait(&mut self) {
        // An error means the trigger is gone, which also means shutting down.
        let _ = self.0.wait_for(|v| *v).await;
    }

    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }
}
