//! Who sees what (DESIGN.md "Visibility"). One rule for sync, feed and API: a technician sees the
//! records assigned to them or made by them, a regional office its region's, head office all.
//! Pure: it decides from the principal and the record's row.

use fieldloop_client_core::model::Role;
use uuid::Uuid;

/// The signed-in user making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: Uuid,
    pub role: Role,
    /// `None` for head office.
    pub region: Option<String>,
}

/// What part of the records a principal sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Region(String),
    Person(Uuid),
}

impl Principal {
    pub fn scope(&self) -> Scope {
        match (&self.role, &self.region) {
            (Role::Technician, _) => Scope::Person(self.user_id),
            (Role::Admin, _) | (_, None) => Scope::All,
            (_, Some(region)) => Scope::Region(region.clone()),
        }
    }

    /// May this principal see a record with these facts?
    pub fn sees(&self, region: &str, created_by: Uuid, assignee: Option<Uuid>) -> bool {
        match self.scope() {
            Scope::All => true,
            Scope::Region(r) => r == region,
            Scope::Person(me) => created_by == me || assignee == Some(me),
        }
    }

    /// May this principal create a record in `region`? Regional staff create in their own
    /// region only; head office anywhere.
    pub fn may_create_in(&self, region: &str) -> bool {
        match &self.region {
            None => true,
            Some(mine) => mine == region,
        }
    }

    pub fn is_head_office(&self) -> bool {
        self.region.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(role: Role, region: Option<&str>) -> Principal {
        Principal {
            user_id: Uuid::from_u128(1),
            role,
            region: region.map(str::to_string),
        }
    }

    #[test]
    fn technicians_see_their_own_work_only() {
        let me = p(Role::Technician, Some("wuhan"));
        let other = Uuid::from_u128(2);
        assert!(me.sees("wuhan", me.user_id, None));
        assert!(me.sees("xian", other, Some(me.user_id)));
        assert!(!me.sees("wuhan", other, None));
        assert!(!me.sees("wuhan", other, Some(other)));
    }

    #[test]
    fn offices_see_their_region_and_head_office_all() {
        let clerk = p(Role::Clerk, Some("wuhan"));
        assert!(clerk.sees("wuhan", Uuid::from_u128(9), None));
        assert!(!clerk.sees("xian", Uuid::from_u128(9), None));
        assert!(!clerk.may_create_in("xian"));
        let quality = p(Role::Quality, None);
        assert!(quality.sees("xian", Uuid::from_u128(9), None));
        assert!(quality.may_create_in("xian"));
    }
}
