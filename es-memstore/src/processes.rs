//! [`ProcessStore`] in memory: each process manager's instances and timers in maps, committed
//! under the checkpoints' lock and its own.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use es_core::process::{InstanceRow, ProcessStore, ProcessWork, TimerRow};
use es_core::projection::Committed;
use es_core::{Position, StoreError};
use uuid::Uuid;

use crate::{MemStore, lock};

/// One process manager's instances and timers.
#[derive(Debug, Default)]
pub(crate) struct Process {
    instances: HashMap<String, InstanceRow>,
    /// Timers by `(key, name)`.
    timers: BTreeMap<(String, String), TimerRow>,
}

impl Process {
    /// Whether every expectation of `work` holds: the instances at their revisions and the
    /// fired timers still there.
    fn expects(&self, work: &ProcessWork) -> bool {
        let revisions = work.instances.iter().all(|row| {
            let stored = self
                .instances
                .get(&row.key)
                .map_or(0, |stored| stored.revision);
            stored == row.revision
        });
        if !revisions {
            return false;
        }
        let mut missing: HashSet<&Uuid> = work.fired.iter().collect();
        for timer in self.timers.values() {
            if missing.is_empty() {
                break;
            }
            missing.remove(&timer.id);
        }
        missing.is_empty()
    }

    /// Writes `work` (its expectations hold).
    fn apply(&mut self, work: ProcessWork) {
        if !work.fired.is_empty() || !work.cleared_timers.is_empty() {
            let fired: HashSet<&Uuid> = work.fired.iter().collect();
            let cleared: HashSet<&str> = work.cleared_timers.iter().map(String::as_str).collect();
            self.timers.retain(|(key, _), timer| {
                !fired.contains(&timer.id) && !cleared.contains(key.as_str())
            });
        }
        for (key, name) in work.cancelled_timers {
            self.timers.remove(&(key, name));
        }
        for timer in work.set_timers {
            self.timers
                .insert((timer.key.clone(), timer.name.clone()), timer);
        }
        for mut row in work.instances {
            row.revision += 1;
            self.instances.insert(row.key.clone(), row);
        }
    }
}

impl ProcessStore for MemStore {
    async fn load_instances(
        &self,
        process: &str,
        keys: &[String],
    ) -> Result<Vec<InstanceRow>, StoreError> {
        let processes = lock(&self.processes);
        let Some(stored) = processes.get(process) else {
            return Ok(Vec::new());
        };
        Ok(keys
            .iter()
            .filter_map(|key| stored.instances.get(key).cloned())
            .collect())
    }

    async fn commit_process(
        &self,
        process: &str,
        work: ProcessWork,
    ) -> Result<Committed, StoreError> {
        let mut checkpoints = lock(&self.checkpoints);
        let mut processes = lock(&self.processes);
        let stored = processes.entry(process.to_owned()).or_default();
        if let Some(advance) = &work.advance {
            let at = checkpoints.get(process).copied().unwrap_or(Position::START);
            if at != advance.from {
                return Ok(Committed::Moved);
            }
        }
        if !stored.expects(&work) {
            return Ok(Committed::Moved);
        }
        if let Some(advance) = &work.advance {
            checkpoints.insert(process.to_owned(), advance.to);
        }
        stored.apply(work);
        Ok(Committed::Done)
    }

    async fn due_timers(
        &self,
        process: &str,
        now: SystemTime,
        limit: usize,
    ) -> Result<Vec<TimerRow>, StoreError> {
        let processes = lock(&self.processes);
        let Some(stored) = processes.get(process) else {
            return Ok(Vec::new());
        };
        let mut due: Vec<TimerRow> = stored
            .timers
            .values()
            .filter(|timer| timer.due <= now)
            .cloned()
            .collect();
        due.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.id.cmp(&b.id)));
        due.truncate(limit);
        Ok(due)
    }

    async fn next_timer(&self, process: &str) -> Result<Option<SystemTime>, StoreError> {
        let processes = lock(&self.processes);
        Ok(processes
            .get(process)
            .and_then(|stored| stored.timers.values().map(|timer| timer.due).min()))
    }

    async fn parked_instances(&self, process: &str) -> Result<Vec<InstanceRow>, StoreError> {
        let processes = lock(&self.processes);
        let Some(stored) = processes.get(process) else {
            return Ok(Vec::new());
        };
        let mut parked: Vec<InstanceRow> = stored
            .instances
            .values()
            .filter(|row| row.parked.is_some())
            .cloned()
            .collect();
        parked.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(parked)
    }

    async fn reset_process(&self, process: &str) -> Result<(), StoreError> {
        let mut checkpoints = lock(&self.checkpoints);
        let mut processes = lock(&self.processes);
        checkpoints.remove(process);
        processes.remove(process);
        Ok(())
    }
}
