//! OS detection and profiles. The OS-specific commands live in profiles
//! (assets/os/*.toml, built in; users add more in CONFIG/os/).
//! INTERFACE (fixed; bodies to be written).

#[derive(Debug, Clone, Default)]
pub struct OsRelease { pub id: String, pub id_like: Vec<String>, pub version_id: String, pub pretty_name: String }

impl OsRelease { pub fn parse(text: &str) -> OsRelease { todo!() } }

#[derive(Debug, Clone, serde::Deserialize)]
pub struct Profile { pub name: String /* ... */ }

pub struct Profiles { /* ... */ }

impl Profiles {
    /// Built-in profiles plus *.toml in `user_dir` (user's win on the same name).
    pub fn load(user_dir: Option<&std::path::Path>) -> Result<Profiles, super::ProvisionError> { todo!() }
    pub fn for_os(&self, os: &OsRelease) -> Option<&Profile> { todo!() }
}
