using Mediator;
using Microsoft.AspNetCore.Mvc;
using Paku.Ota.Api.Http;
using Paku.Ota.Application.Devices;
using Paku.Ota.Application.Devices.Blocking;
using Paku.Ota.Application.Devices.ExplainUpdate;
using Paku.Ota.Application.Devices.GetDevice;
using Paku.Ota.Application.Devices.ListDevices;
using Paku.Ota.Application.Devices.ListUpdateHistory;
using Paku.Ota.Application.Devices.SetGroups;

namespace Paku.Ota.Api.Endpoints;

/// <summary>Devices for operators: the seed's device list and update history, device groups (which the
/// seed set in SQL), and "why is this device (not) updating?". They bind, send and map.</summary>
public static class AdminDeviceEndpoints
{
    private const int MaxGroupsBodyBytes = 64 * 1024;

    // 10,000 devices with a handful of groups each.
    private const int MaxBulkGroupsBodyBytes = 16 * 1024 * 1024;

    private static readonly string[] GroupsFields = ApiDescription.FieldsOf<GroupsBody>();
    private static readonly string[] GroupsOfDevicesFields = ApiDescription.FieldsOf<GroupsOfDevicesBody>();
    private static readonly string[] BlockFields = ApiDescription.FieldsOf<BlockBody>();

    public static RouteGroupBuilder MapAdminDeviceEndpoints(this RouteGroupBuilder admin)
    {
        admin.MapGet("/devices", ListAsync).WithName("ListDevices").Produces<DevicePage>().Refuses(400);
        admin.MapGet("/devices/{device_id}", GetAsync).WithName("GetDevice").Produces<DeviceDetail>().Refuses(400, 404);
        admin.MapGet("/devices/{device_id}/explain", ExplainAsync).WithName("ExplainDeviceUpdate").Produces<UpdateExplanation>().Refuses(400, 404, 422);
        admin.MapPut("/devices/{device_id}/groups", SetGroupsAsync).AdminWrite("device.groups.set").WithName("SetDeviceGroups")
            .Reads<GroupsBody>("""{"groups": ["lab", "beta"]}""").Produces<DeviceView>().Refuses(400, 404, 413);
        admin.MapPut("/devices/groups", SetGroupsOfDevicesAsync).AdminWrite("device.groups.set_many").WithName("SetGroupsOfDevices")
            .Reads<GroupsOfDevicesBody>("""{"devices": {"esp32_001": ["lab"], "esp32_002": ["lab", "beta"]}}""")
            .Produces<GroupsAssigned>().Refuses(400, 404, 413);
        admin.MapPut("/devices/{device_id}/block", BlockAsync).AdminWrite("device.block").WithName("BlockDevice")
            .Reads<BlockBody>("""{"reason": "certificate copied to a second board"}""").Produces<DeviceBlock>().Refuses(400, 413);
        admin.MapDelete("/devices/{device_id}/block", UnblockAsync).AdminWrite("device.unblock").WithName("UnblockDevice")
            .Produces<DeviceUnblocked>().Refuses(400, 404);
        admin.MapGet("/update-status", HistoryAsync).WithName("ListUpdateStatus").Produces<UpdateHistory>().Refuses(400);
        return admin;
    }

    private static async Task<IResult> ListAsync(
        [FromQuery(Name = "device_model")] string? deviceModel,
        [FromQuery(Name = "group")] string? group,
        [FromQuery(Name = "version")] string? version,
        [FromQuery(Name = "limit")] string? limit,
        [FromQuery(Name = "offset")] string? offset,
        [FromQuery(Name = "search")] string? search,
        [FromQuery(Name = "status")] string? status,
        IMediator mediator,
        CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new ListDevices(deviceModel, group, version, limit, offset) { Search = search, Status = status }, cancellationToken);
        return result.ToHttp(page => Results.Ok(page));
    }

    private static async Task<IResult> GetAsync([FromRoute(Name = "device_id")] string deviceId, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new GetDevice(deviceId), cancellationToken);
        return result.ToHttp(device => Results.Ok(device));
    }

    private static async Task<IResult> ExplainAsync([FromRoute(Name = "device_id")] string deviceId, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new ExplainUpdate(deviceId), cancellationToken);
        return result.ToHttp(explanation => Results.Ok(explanation));
    }

    private static async Task<IResult> SetGroupsAsync(
        [FromRoute(Name = "device_id")] string deviceId, HttpRequest request, IMediator mediator, CancellationToken cancellationToken)
    {
        var read = await JsonFields.ReadAsync(request, MaxGroupsBodyBytes, nullIsAbsent: false, cancellationToken);
        if (!read.IsSuccess)
        {
            return read.Error!.ToProblem();
        }

        var body = read.Value;
        body.AllowOnly(GroupsFields);
        var command = new SetDeviceGroups(deviceId, body.Strings("groups"));
        if (body.Error is { } shape)
        {
            return shape.ToProblem();
        }

        var result = await mediator.Send(command, cancellationToken);
        return result.ToHttp(device => Results.Ok(device));
    }

    private static async Task<IResult> SetGroupsOfDevicesAsync(HttpRequest request, IMediator mediator, CancellationToken cancellationToken)
    {
        var read = await JsonFields.ReadAsync(request, MaxBulkGroupsBodyBytes, nullIsAbsent: false, cancellationToken);
        if (!read.IsSuccess)
        {
            return read.Error!.ToProblem();
        }

        var body = read.Value;
        body.AllowOnly(GroupsOfDevicesFields);
        Dictionary<string, IReadOnlyList<string>>? devices = null;
        if (body.Object("devices") is { } map)
        {
            devices = new Dictionary<string, IReadOnlyList<string>>(map.Count, StringComparer.Ordinal);
            foreach (var id in map.Names)
            {
                if (map.Strings(id) is { } groups)
                {
                    devices[id] = groups;
                }
            }
        }

        if (body.Error is { } shape)
        {
            return shape.ToProblem();
        }

        var result = await mediator.Send(new SetGroupsOfDevices(devices), cancellationToken);
        return result.ToHttp(assigned => Results.Ok(assigned));
    }

    private static async Task<IResult> BlockAsync(
        [FromRoute(Name = "device_id")] string deviceId, HttpRequest request, System.Security.Claims.ClaimsPrincipal user, IMediator mediator,
        CancellationToken cancellationToken)
    {
        var read = await JsonFields.ReadAsync(request, MaxGroupsBodyBytes, nullIsAbsent: false, cancellationToken);
        if (!read.IsSuccess)
        {
            return read.Error!.ToProblem();
        }

        var body = read.Value;
        body.AllowOnly(BlockFields);
        var command = new BlockDevice(deviceId, body.String("reason"), user.Identity?.Name ?? "unknown");
        if (body.Error is { } shape)
        {
            return shape.ToProblem();
        }

        var result = await mediator.Send(command, cancellationToken);
        return result.ToHttp(block => Results.Ok(block));
    }

    private static async Task<IResult> UnblockAsync([FromRoute(Name = "device_id")] string deviceId, IMediator mediator, CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new UnblockDevice(deviceId), cancellationToken);
        return result.ToHttp(unblocked => Results.Ok(unblocked));
    }

    private static async Task<IResult> HistoryAsync(
        [FromQuery(Name = "device_id")] string? deviceId,
        [FromQuery(Name = "firmware_version")] string? firmwareVersion,
        [FromQuery(Name = "status")] string? status,
        [FromQuery(Name = "limit")] string? limit,
        IMediator mediator,
        CancellationToken cancellationToken)
    {
        var result = await mediator.Send(new ListUpdateHistory(deviceId, firmwareVersion, status, limit), cancellationToken);
        return result.ToHttp(updates => Results.Ok(new UpdateHistory(updates)));
    }

    /// <summary>The groups of one device, replacing its groups (an empty list removes them all).</summary>
    public sealed record GroupsBody(IReadOnlyList<string> Groups);

    /// <summary>The groups of many devices at once, keyed by device id; all or nothing.</summary>
    public sealed record GroupsOfDevicesBody(IReadOnlyDictionary<string, IReadOnlyList<string>> Devices);

    /// <summary>Why the device is blocked (a stolen or cloned certificate), for operators and the audit.</summary>
    public sealed record BlockBody(string Reason);

    public sealed record UpdateHistory(IReadOnlyList<UpdateHistoryEntry> Updates);
}
