-- Phased rollouts: a rollout may carry a plan of phases (percentages, or groups added in order), each
-- with gates (minimum confirmed boots, maximum failure rate, minimum soak) that it must pass before the
-- rollout advances to the next phase (RolloutPlan in the Domain decides). A rollout without a plan has
-- phase_plan null and behaves as before.
--   phase_plan:       [{"percentage": 10, "min_confirmed": 5, "max_failure_percent": 2, "min_soak_seconds": 3600}, …]
--                     or [{"groups": ["lab"], …}, …]; the admin API's wire format
--   phase_index:      the current phase, from 0
--   phase_started_at: when the current phase began (its soak counts from here)
--   phase_held_by:    set while an operator holds the rollout in its phase (it does not advance by itself)
alter table rollouts
    add column phase_plan       jsonb,
    add column phase_index      integer not null default 0,
    add column phase_started_at timestamptz,
    add column phase_held_by    text,
    add constraint rollouts_phase_plan_check check (
        phase_plan is null
        or (jsonb_typeof(phase_plan) = 'array' and phase_index >= 0 and phase_index < jsonb_array_length(phase_plan)
            and phase_started_at is not null));

-- as 0004_attempt_deadlines, plus the confirmed boots a phase's gate counts (RolloutHealthViewTests pins it to the Domain)
create or replace view rollout_health as
select r.id as rollout_id,
       case when r.is_active then 'active' when r.halted_at is not null then 'halted' else 'paused' end as state,
       count(rd.device_id) filter (where rd.status <> 'offered')::int as attempts,
       count(rd.device_id) filter (where rd.status = 'failed')::int as failed,
       count(rd.device_id) filter (where rd.status = 'rolled_back')::int as rolled_back,
       count(rd.device_id) filter (where rd.status in ('failed', 'rolled_back', 'timed_out'))::int as failures,
       count(rd.device_id) filter (where rd.status = 'timed_out')::int as timed_out,
       count(rd.device_id) filter (where rd.status = 'confirmed')::int as confirmed
from rollouts r
left join rollout_devices rd on rd.rollout_id = r.id
group by r.id;
