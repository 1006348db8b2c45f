//! Which members are shown (filter, view) and which one is selected.

use corral_shared::api::{ClusterMember, MemberStatus};

use super::app::{App, Row, View, is_voter};
use super::view;
use crate::format::order::natural_cmp;

impl App {
    /// Whether a member passes the filter.
    pub(super) fn matches(&self, m: &ClusterMember) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let needle = self.filter.to_lowercase();
        let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
        [
            m.server_name.as_str(),
            m.url.as_str(),
            m.failure_domain.as_str(),
            &m.status.to_string(),
            &roles.join(" "),
            &m.groups.join(" "),
            m.architecture.as_str(),
        ]
        .iter()
        .any(|field| field.to_lowercase().contains(&needle))
    }

    /// The members that pass the filter, in the current view's order.
    pub fn visible(&self) -> Vec<&ClusterMember> {
        let mut shown: Vec<&ClusterMember> =
            self.members.iter().filter(|m| self.matches(m)).collect();
        if self.view == View::Domains {
            shown.sort_by(|a, b| natural_cmp(&a.failure_domain, &b.failure_domain));
        }
        shown
    }

    /// The rows of the members pane.
    pub fn rows(&self) -> Vec<Row<'_>> {
        let shown = self.visible();
        if self.view == View::Members {
            return shown.into_iter().map(Row::Member).collect();
        }
        let mut rows = Vec::new();
        let mut i = 0;
        while i < shown.len() {
            let domain = shown[i].failure_domain.as_str();
            let group: Vec<&ClusterMember> = shown[i..]
                .iter()
                .take_while(|m| m.failure_domain == domain)
                .copied()
                .collect();
            rows.push(Row::Domain {
                name: domain,
                members: group.len(),
                online: group
                    .iter()
                    .filter(|m| m.status == MemberStatus::Online)
                    .count(),
                voters: group.iter().filter(|m| is_voter(m)).count(),
            });
            i += group.len();
            rows.extend(group.into_iter().map(Row::Member));
        }
        rows
    }

    /// The selected member, if any.
    pub fn selected_member(&self) -> Option<&ClusterMember> {
        let name = self.selected.as_deref()?;
        self.members.iter().find(|m| m.server_name == name)
    }

    /// The row index of the selection in the members pane.
    pub fn selected_row(&self) -> Option<usize> {
        let name = self.selected.as_deref()?;
        self.rows()
            .iter()
            .position(|r| matches!(r, Row::Member(m) if m.server_name == name))
    }

    /// Keeps the selection on a visible member and within the shown rows.
    pub(super) fn fix_selection(&mut self) {
        let names: Vec<String> = self
            .visible_in_row_order()
            .into_iter()
            .map(|m| m.server_name.clone())
            .collect();
        if !self
            .selected
            .as_ref()
            .is_some_and(|s| names.iter().any(|n| n == s))
        {
            self.selected = names.first().cloned();
            self.detail_scroll = 0;
        }
        let visible = usize::from(view::table_rows(self));
        match self.selected_row() {
            Some(row) if row < self.table_offset => self.table_offset = row,
            Some(row) if visible > 0 && row >= self.table_offset + visible => {
                self.table_offset = row + 1 - visible;
            }
            _ => {}
        }
        // In the domain view, show a first member's heading with it.
        if self.selected_row() == Some(1) && self.table_offset == 1 {
            self.table_offset = 0;
        }
        let rows = self.rows().len();
        if visible > 0 && self.table_offset + visible > rows {
            self.table_offset = rows.saturating_sub(visible);
        }
    }

    pub(super) fn visible_in_row_order(&self) -> Vec<&ClusterMember> {
        self.rows()
            .into_iter()
            .filter_map(|r| match r {
                Row::Member(m) => Some(m),
                Row::Domain { .. } => None,
            })
            .collect()
    }

    pub(super) fn select_by(&mut self, pick: impl FnOnce(Option<usize>, usize) -> usize) {
        let names: Vec<String> = self
            .visible_in_row_order()
            .into_iter()
            .map(|m| m.server_name.clone())
            .collect();
        if names.is_empty() {
            return;
        }
        let current = self
            .selected
            .as_ref()
            .and_then(|s| names.iter().position(|n| n == s));
        let index = pick(current, names.len()).min(names.len() - 1);
        if self.selected.as_ref() != Some(&names[index]) {
            self.selected = Some(names[index].clone());
            self.detail_scroll = 0;
        }
    }

    pub(super) fn move_selection(&mut self, delta: isize) {
        self.select_by(|current, _| match current {
            Some(i) => i.saturating_add_signed(delta),
            None => 0,
        });
    }
}
