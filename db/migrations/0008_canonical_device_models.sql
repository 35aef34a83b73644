-- Device models have one canonical form, lower case (Paku.Ota.Domain.Devices.DeviceModel.Canonical):
-- an upload, a check or a rollout for 'ESP32' means the model 'esp32', never a second model.
-- Rows written before are brought to that form. Two releases that would then be one release (same
-- model but for case, same version) are not merged silently: the migration stops, changes nothing,
-- and names them, so that an operator decides which one stays.
do $$
declare
    clashes text;
begin
    select string_agg(format('%s (models %s)', version_precedence, models), '; ')
      into clashes
      from (select version_precedence, string_agg(device_model, ', ' order by device_model) as models
              from firmware_releases
             group by lower(device_model), version_precedence
            having count(*) > 1) as clash;
    if clashes is not null then
        raise exception 'device models that differ only in case have the same release: %. Delete or rename one release of each (and its rollouts), then migrate again.', clashes;
    end if;
end
$$;

update firmware_releases set device_model = lower(device_model) where device_model <> lower(device_model);
update rollouts set device_model = lower(device_model) where device_model <> lower(device_model);
update devices set device_model = lower(device_model) where device_model <> lower(device_model);

alter table firmware_releases add constraint firmware_releases_device_model_canonical check (device_model = lower(device_model));
alter table rollouts add constraint rollouts_device_model_canonical check (device_model = lower(device_model));
alter table devices add constraint devices_device_model_canonical check (device_model = lower(device_model));
