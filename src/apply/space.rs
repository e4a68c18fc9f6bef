//! Runs the operations of one space, in plan order, with retries.

use std::collections::HashMap;
use std::future::Future;
use std::time::Instant;

use tracing::{Instrument, Span, debug, field, info, info_span, warn};

use super::events::{Event, EventSink, Outcome, Summary};
use super::{ApplyContext, OperationResult, SpaceReport};
use crate::chat::ChatError;
use crate::plan::{Action, MemberRef, Operation, Reason, SpacePlan};

/// The limiter a request waits for.
#[derive(Clone, Copy)]
enum Access {
    Read,
    Write,
}

/// Runs every operation of `plan` one at a time and reports each outcome.
pub(super) async fn run_space(
    plan: &SpacePlan,
    context: &ApplyContext<'_>,
    events: &EventSink,
) -> SpaceReport {
    let span = info_span!("space", space = %plan.space);
    let mut runner = SpaceRunner {
        space: &plan.space,
        context,
        events,
        summary: Summary::default(),
        created: HashMap::new(),
        attempts: 0,
    };
    let report = runner.run(plan).instrument(span).await;
    context.limits.forget_idle_spaces();
    report
}

struct SpaceRunner<'r, 'a> {
    space: &'r str,
    context: &'r ApplyContext<'a>,
    events: &'r EventSink,
    summary: Summary,
    /// Membership names returned by the adds of this run, by member resource.
    created: HashMap<String, String>,
    /// Requests sent for the current operation.
    attempts: u32,
}

impl SpaceRunner<'_, '_> {
    async fn run(&mut self, plan: &SpacePlan) -> SpaceReport {
        let started = Instant::now();
        let mut results: Vec<OperationResult> = Vec::with_capacity(plan.operations.len());

        for operation in &plan.operations {
            let operation_started = Instant::now();
            self.attempts = 0;
            let outcome = match self.skip_reason(plan, &results, operation) {
                Some(reason) => Outcome::Skipped { reason },
                None => {
                    let span = info_span!(
                        "operation",
                        index = operation.index,
                        operation = operation.action.kind(),
                        member = %operation.action.member().display,
                        attempt = field::Empty,
                    );
                    self.run_operation(operation).instrument(span).await
                }
            };
            log_outcome(operation, &outcome);

            self.summary.count(&outcome);
            self.events.send(Event::OperationFinished {
                space: self.space.to_string(),
                index: operation.index,
                outcome: outcome.clone(),
                duration: operation_started.elapsed(),
            });
            results.push(OperationResult {
                index: operation.index,
                outcome,
                attempts: self.attempts,
            });
        }

        self.summary.duration = started.elapsed();
        self.events.send(Event::SpaceFinished {
            space: self.space.to_string(),
            summary: self.summary.clone(),
        });
        SpaceReport {
            space: self.space.to_string(),
            results,
            summary: self.summary.clone(),
        }
    }

    /// Returns why `operation` must not run: the run was stopped, or an
    /// operation it requires did not succeed.
    fn skip_reason(
        &self,
        plan: &SpacePlan,
        results: &[OperationResult],
        operation: &Operation,
    ) -> Option<String> {
        if self.context.stop.is_stopped() {
            return Some(STOPPED_REASON.to_string());
        }
        for &required in &operation.requires {
            let Some(result) = results.iter().find(|result| result.index == required) else {
                return Some(format!(
                    "operation {required}, which this one requires, has not run"
                ));
            };
            if result.outcome.succeeded() {
                continue;
            }
            let description = plan
                .operations
                .iter()
                .find(|candidate| candidate.index == required)
                .map(describe)
                .unwrap_or_else(|| format!("operation {required}"));
            let verb = match result.outcome {
                Outcome::Skipped { .. } => "was skipped",
                _ => "failed",
            };
            return Some(format!("{description} {verb}"));
        }
        None
    }

    async fn run_operation(&mut self, operation: &Operation) -> Outcome {
        let client = self.context.client;
        let space = self.space;
        match &operation.action {
            Action::Add { member } => {
                let resource = member.resource.as_str();
                let Ok(result) = self
                    .call(operation.index, Access::Write, move || {
                        client.create_member(space, resource)
                    })
                    .await
                else {
                    return stopped();
                };
                match result {
                    Ok(membership) => {
                        if let Some(name) = membership.name {
                            self.created.insert(member.resource.clone(), name);
                        }
                        Outcome::Applied
                    }
                    Err(error) if has_status(&error, 409, "ALREADY_EXISTS") => Outcome::AlreadyDone,
                    Err(error) => failed(&error),
                }
            }
            Action::SetRole {
                member,
                membership,
                to,
                ..
            } => {
                let name = match membership {
                    Some(name) => name.clone(),
                    None => match self.membership_name(operation.index, member).await {
                        Ok(name) => name,
                        Err(outcome) => return outcome,
                    },
                };
                let name = name.as_str();
                let Ok(result) = self
                    .call(operation.index, Access::Write, move || {
                        client.set_member_role(name, to)
                    })
                    .await
                else {
                    return stopped();
                };
                match result {
                    Ok(_) => Outcome::Applied,
                    Err(error) => failed(&error),
                }
            }
            Action::Remove { membership, .. } => {
                let name = membership.as_str();
                let Ok(result) = self
                    .call(operation.index, Access::Write, move || {
                        client.delete_member(name)
                    })
                    .await
                else {
                    return stopped();
                };
                match result {
                    Ok(_) => Outcome::Applied,
                    Err(error) if has_status(&error, 404, "NOT_FOUND") => Outcome::AlreadyDone,
                    Err(error) => failed(&error),
                }
            }
        }
    }

    /// Finds the membership an earlier add of `member` created: from the
    /// add's response, else by id, else with `spaces.members.get` on the
    /// email alias (the add was already done, or returned no name). On
    /// failure, returns the outcome the role change ends with.
    async fn membership_name(
        &mut self,
        index: usize,
        member: &MemberRef,
    ) -> Result<String, Outcome> {
        if let Some(name) = self.created.get(&member.resource) {
            return Ok(name.clone());
        }
        let id = member
            .resource
            .strip_prefix("users/")
            .or_else(|| member.resource.strip_prefix("groups/"))
            .unwrap_or(&member.resource);
        let alias = format!("{}/members/{id}", self.space);
        if !id.contains('@') {
            return Ok(alias);
        }

        let client = self.context.client;
        let alias_ref = alias.as_str();
        let Ok(result) = self
            .call(index, Access::Read, move || client.get_member(alias_ref))
            .await
        else {
            return Err(stopped());
        };
        match result {
            Ok(membership) => membership.name.ok_or_else(|| Outcome::Failed {
                error: format!(
                    "the API returned no membership name for {alias}; cannot change its role"
                ),
            }),
            Err(error) => Err(Outcome::Failed {
                error: format!(
                    "could not find the membership of {}: {error}",
                    member.display
                ),
            }),
        }
    }

    /// Sends `request` until it succeeds, the retry policy gives up, or the
    /// run is stopped. Every attempt waits for the limiters and the gate.
    ///
    /// Returns `Err(Stopped)` when a stop arrived before the first attempt
    /// was sent; a stop during a retry backoff returns the last error.
    async fn call<T, F, Fut>(
        &mut self,
        index: usize,
        access: Access,
        mut request: F,
    ) -> Result<Result<T, ChatError>, Stopped>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ChatError>>,
    {
        let context = self.context;
        let mut attempt: u32 = 1;
        loop {
            // The per-space limiter comes first, so that a task waiting for
            // a busy space does not hold project-wide capacity.
            let ready = async {
                match access {
                    Access::Write => context.limits.until_write_ready(self.space).await,
                    Access::Read => context.limits.until_read_ready(self.space).await,
                }
                context.slow_down.wait().await;
            };
            tokio::select! {
                biased;
                () = context.stop.stopped() => return Err(Stopped),
                () = ready => {}
            }

            Span::current().record("attempt", attempt);
            self.attempts += 1;
            self.events.send(Event::OperationStarted {
                space: self.space.to_string(),
                index,
                attempt,
            });
            let result = request().await;
            match access {
                Access::Write => context.limits.write_completed(self.space),
                Access::Read => context.limits.read_completed(self.space),
            }
            let error = match result {
                Ok(value) => return Ok(Ok(value)),
                Err(error) => error,
            };

            let rate_limited = http_status(&error) == Some(429);
            if rate_limited {
                self.summary.rate_limited += 1;
            }
            if context.stop.is_stopped() {
                return Ok(Err(error));
            }
            let Some(delay) = context.retry.delay_after(&error, attempt) else {
                return Ok(Err(error));
            };
            if rate_limited {
                context.slow_down.pause_for(delay);
            }
            info!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "retrying");
            self.events.send(Event::OperationRetrying {
                space: self.space.to_string(),
                index,
                attempt,
                delay,
                error: error.to_string(),
            });
            self.summary.retries += 1;
            tokio::select! {
                biased;
                () = context.stop.stopped() => return Ok(Err(error)),
                () = tokio::time::sleep(delay) => {}
            }
            attempt += 1;
        }
    }
}

/// Names an operation in a skip reason, such as "successor promotion of
/// carol@example.com".
fn describe(operation: &Operation) -> String {
    let member = &operation.action.member().display;
    match (&operation.action, &operation.reason) {
        (Action::SetRole { .. }, Reason::Successor { .. }) => {
            format!("successor promotion of {member}")
        }
        (Action::SetRole { .. }, _) => format!("role change of {member}"),
        (Action::Add { .. }, _) => format!("adding {member}"),
        (Action::Remove { .. }, _) => format!("removal of {member}"),
    }
}

fn log_outcome(operation: &Operation, outcome: &Outcome) {
    let kind = operation.action.kind();
    let member = &operation.action.member().display;
    match outcome {
        Outcome::Applied => debug!(index = operation.index, operation = kind, %member, "applied"),
        Outcome::AlreadyDone => {
            info!(index = operation.index, operation = kind, %member, "already done")
        }
        Outcome::Skipped { reason } => {
            warn!(index = operation.index, operation = kind, %member, %reason, "skipped")
        }
        Outcome::Failed { error } => {
            warn!(index = operation.index, operation = kind, %member, %error, "failed")
        }
    }
}

/// The run was stopped while an operation waited to send its first request.
struct Stopped;

const STOPPED_REASON: &str = "the run was stopped before this operation";

fn stopped() -> Outcome {
    Outcome::Skipped {
        reason: STOPPED_REASON.to_string(),
    }
}

fn failed(error: &ChatError) -> Outcome {
    Outcome::Failed {
        error: error.to_string(),
    }
}

fn http_status(error: &ChatError) -> Option<u16> {
    match error {
        ChatError::Api { http_status, .. } => Some(*http_status),
        _ => None,
    }
}

/// Checks an API error's HTTP status, and Google's status when one was sent.
fn has_status(error: &ChatError, http: u16, google: &str) -> bool {
    match error {
        ChatError::Api {
            http_status,
            status,
            ..
        } => *http_status == http && status.as_deref().is_none_or(|status| status == google),
        _ => false,
    }
}
