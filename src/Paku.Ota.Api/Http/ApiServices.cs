using Microsoft.AspNetCore.Http.Json;
using Paku.Ota.Api.Security;

namespace Paku.Ota.Api.Http;

public static class ApiServices
{
    public static IServiceCollection AddApi(this IServiceCollection services, IConfiguration configuration)
    {
        // every problem+json, whoever writes it, leaves its detail for the audit of a refused admin write
        services.AddProblemDetails(options => options.CustomizeProblemDetails = problem =>
        {
            if (problem.ProblemDetails.Status == StatusCodes.Status413PayloadTooLarge && problem.ProblemDetails.Detail is null)
            {
                problem.ProblemDetails.Detail = RequestLimitsMiddleware.BodyTooLarge(problem.HttpContext);
            }

            problem.HttpContext.Items[AdminAuditMiddleware.ProblemDetailItem] = problem.ProblemDetails.Detail;
        });
        services.AddExceptionHandler<ProblemExceptionHandler>();

        // a body or parameter the framework cannot bind is thrown, so that the one exception handler answers
        // with a problem naming the field, instead of a bare 400
        services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.Configure<JsonOptions>(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
            options.SerializerOptions.DictionaryKeyPolicy = null;
        });

        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(configuration.GetSection("Ota:RateLimit").Get<RateLimitOptions>() ?? new RateLimitOptions());
        services.AddSingleton<DeviceRateLimiter>();
        services.AddSingleton(configuration.GetSection("Ota:Downloads").Get<DownloadOptions>() ?? new DownloadOptions());
        services.AddSingleton<DownloadGate>();
        services.AddDeviceAdmission(configuration.GetSection("Ota:Admission").Get<AdmissionOptions>() ?? new AdmissionOptions());

        var devices = configuration.GetSection("Ota:Devices").Get<DeviceAuthOptions>() ?? new DeviceAuthOptions();
        services.Configure<DeviceAuthOptions>(configuration.GetSection("Ota:Devices"));
        services.AddSingleton(new ApiKeyRegistry(configuration.GetSection("Ota:ApiKeys").Get<List<ApiKeyOptions>>() ?? []));
        services.AddAuthentication()
            .AddDeviceCertificates(devices)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(AdminPolicies.Scheme, null);
        services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicies.Read, policy => policy
                .AddAuthenticationSchemes(AdminPolicies.Scheme)
                .RequireAuthenticatedUser()
                .RequireClaim(AdminPolicies.ScopeClaim, "read", "write"))
            .AddPolicy(AdminPolicies.Write, policy => policy
                .AddAuthenticationSchemes(AdminPolicies.Scheme)
                .RequireAuthenticatedUser()
                .RequireClaim(AdminPolicies.ScopeClaim, "write"));
        return services;
    }
}
