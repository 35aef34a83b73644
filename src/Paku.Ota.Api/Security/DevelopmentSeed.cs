using System.Security.Cryptography;
using Mediator;
using Paku.Ota.Application.Catalog;
using Paku.Ota.Application.Firmware.GetRelease;
using Paku.Ota.Application.Firmware.UploadRelease;
using Paku.Ota.Application.Rollouts.CreateRollout;
using Paku.Ota.Application.Rollouts.GetRollout;

namespace Paku.Ota.Api.Security;

/// <summary>What the README's quick start finds in the development profile: release 1.2.0 of model esp32
/// (a small image, signed with the profile's signing key) and rollout <see cref="RolloutName"/>, which
/// offers it to every esp32 device (the example device esp32_001 among them; a canary made later can
/// still reach it, which a rollout naming it would outrank). Made through the same use cases as the admin API, once:
/// on a restart, whatever exists already (also when an operator changed or paused it) is left alone.</summary>
public static class DevelopmentSeed
{
    public const string Model = "esp32";
    public const string Version = "1.2.0";
    public const string RolloutName = "example-esp32-1.2.0";
    private const string Actor = "development-seed";

    public static async Task RunAsync(IServiceProvider services, DevelopmentProfile.Material material, ILogger log, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var mediator = scope.ServiceProvider.GetRequiredService<IMediator>();

        if (!(await mediator.Send(new GetRelease(Model, Version), cancellationToken)).IsSuccess)
        {
            var image = ExampleImage();
            using var key = RSA.Create();
            key.ImportFromPem(await File.ReadAllTextAsync(material.SigningKey, cancellationToken));
            var signature = key.SignData(image, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var upload = new UploadRelease(Version, Model, null, null, "Faster boot", "true", null,
                UploadedImage.FromBytes(image, image.Length), signature, Actor);
            var uploaded = await mediator.Send(upload, cancellationToken);
            if (!uploaded.IsSuccess)
            {
                log.LogWarning("Development profile: the example release {Model} {Version} was not made: {Reason}", Model, Version, uploaded.Error!.Detail);
                return;
            }
        }

        if (!(await mediator.Send(new GetRollout(RolloutName), cancellationToken)).IsSuccess)
        {
            var rollout = new CreateRollout(RolloutName, Version, Model, "all", null, 100, true, false, null, null, Actor);
            var created = await mediator.Send(rollout, cancellationToken);
            if (!created.IsSuccess)
            {
                log.LogWarning("Development profile: the example rollout {Rollout} was not made: {Reason}", RolloutName, created.Error!.Detail);
                return;
            }
        }

        scope.ServiceProvider.GetRequiredService<ICatalog>().Invalidate();
        log.LogInformation("Development profile: release {Model} {Version} and rollout {Rollout} are there for the quick start", Model, Version, RolloutName);
    }

    /// <summary>200,001 bytes that pass the ESP app-image check (magic byte 0xE9), the same on every machine.</summary>
    private static byte[] ExampleImage()
    {
        var image = new byte[200_001];
        for (var i = 0; i < image.Length; i++)
        {
            image[i] = (byte)(i * 31 % 251);
        }

        image[0] = UploadedImage.EspImageMagic;
        return image;
    }
}
