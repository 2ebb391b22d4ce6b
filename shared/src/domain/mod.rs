//! The pure domain: types parsed at the edge, the lifecycle state machine, the auto-approval
//! policy, portal settings, and the records and events. No I/O here.

pub mod audit;
pub mod delivery;
pub mod idp;
pub mod lifecycle;
pub mod model;
pub mod records;
pub mod replay;
pub mod settings;
pub mod templates;
pub mod types;
pub mod urls;
pub mod webhooks;

pub use idp::{ClaimMappings, IdentityProvider, TeamMapping};
pub use lifecycle::{auto_approval, auto_approval_now, AutoApproval, ForbiddenTransition, Transition};
pub use model::*;
pub use records::*;
pub use settings::{parse_brand_color, parse_logo_url, PortalSettings, RateLimitOverrides, RateLimitPatch, RejectAction, SettingsPatch};
pub use templates::{MailKind, TemplateOverride};
pub use types::*;
