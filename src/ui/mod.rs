//! The views and their view models. Views bind to view models only; view models talk to the
//! repository, never to a service.

pub mod app;
