-- Stuck updates: an attempt whose device stays silent in a step past its rollout's deadline is
-- timed out by the server ('timed_out', a failure for the rollout's health, until the device tells
-- more). The deadlines are per rollout, in minutes, per step (AttemptDeadline in the Domain).
alter table devices drop constraint devices_update_status_check,
    add constraint devices_update_status_check
        check (update_status in ('downloading', 'installing', 'success', 'confirmed', 'rolled_back', 'failed', 'timed_out'));
alter table rollout_devices drop constraint rollout_devices_status_check,
    add constraint rollout_devices_status_check
        check (status in ('offered', 'downloading', 'installing', 'success', 'confirmed', 'rolled_back', 'failed', 'timed_out'));
alter table device_update_status drop constraint device_update_status_status_check,
    add constraint device_update_status_status_check
        check (status in ('downloading', 'installing', 'success', 'confirmed', 'rolled_back', 'failed', 'timed_out'));

alter table rollouts
    add column deadline_downloading_minutes integer not null default 360 check (deadline_downloading_minutes between 1 and 43200),
    add column deadline_installing_minutes  integer not null default 60  check (deadline_installing_minutes between 1 and 43200),
    add column deadline_success_minutes     integer not null default 120 check (deadline_success_minutes between 1 and 43200);

-- as 0003_rollout_health, with timed-out attempts among the failures (RolloutHealthViewTests pins it to the Domain)
create or replace view rollout_health as
select r.id as rollout_id,
       case when r.is_active then 'active' when r.halted_at is not null then 'halted' else 'paused' end as state,
       count(rd.device_id) filter (where rd.status <> 'offered')::int as attempts,
       count(rd.device_id) filter (where rd.status = 'failed')::int as failed,
       count(rd.device_id) filter (where rd.status = 'rolled_back')::int as rolled_back,
       count(rd.device_id) filter (where rd.status in ('failed', 'rolled_back', 'timed_out'))::int as failures,
       count(rd.device_id) filter (where rd.status = 'timed_out')::int as timed_out
from rollouts r
left join rollout_devices rd on rd.rollout_id = r.id
group by r.id;
