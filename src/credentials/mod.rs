//! Secrets the business actions handle themselves: password hashes for accounts and the signed
//! links customers answer feedback with. Bearer tokens and who is calling live in `auth/`.

pub mod links;
pub mod password;
