using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Paku.Ota.Api.Security;

namespace Paku.Ota.Api.Http;

/// <summary>The OpenAPI document (/openapi/v1.json): admin operations declare the API-key scheme,
/// device operations the mutual-TLS scheme.</summary>
public static class OpenApiSetup
{
    public const string ApiKeyScheme = "ApiKey";
    public const string DeviceScheme = "DeviceCertificate";

    /// <summary>Describes the JSON body of an endpoint that reads its body itself (field by field, to name a
    /// bad field) as <typeparamref name="T"/>. Unlike <c>Accepts&lt;T&gt;</c> it adds no content-type
    /// constraint, so a body sent with another content type is still read and answered field by field.</summary>
    public static RouteHandlerBuilder DescribesJsonBody<T>(this RouteHandlerBuilder endpoint) =>
        endpoint.AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["application/json"] = new() { Schema = await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken) },
                },
            };
        });

    public static IServiceCollection AddOtaOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "Paku OTA",
                    Version = "v1",
                    Description = "Firmware updates for ESP32/ESP8266 fleets: the device API (check, download, status) and the admin API.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[ApiKeyScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = AdminPolicies.HeaderName,
                    Description = "An admin API key; read scope for GET, write scope for changes.",
                };
                document.Components.SecuritySchemes[DeviceScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.MutualTLS,
                    Description = "A client certificate issued by the fleet CA; its CN is the device id.",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                var path = context.Description.RelativePath ?? "";
                var scheme = path.StartsWith("api/admin", StringComparison.Ordinal) ? ApiKeyScheme
                    : path.StartsWith("api/firmware", StringComparison.Ordinal) || path.StartsWith("api/device", StringComparison.Ordinal) ? DeviceScheme
                    : null;
                if (scheme is not null)
                {
                    operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme, context.Document)] = [] }];
                }

                return Task.CompletedTask;
            });
        });
}
