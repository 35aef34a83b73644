using System.Text.Json.Nodes;
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
            // the web defaults would also read numbers from strings; the API's own parsers do not, so a
            // number is declared as a number only
            options.AddSchemaTransformer((schema, _, _) =>
            {
                if (schema.Type is { } type && (type & (JsonSchemaType.Integer | JsonSchemaType.Number)) != 0 && (type & JsonSchemaType.String) != 0)
                {
                    schema.Type = type & ~JsonSchemaType.String;
                    schema.Pattern = null;
                }

                return Task.CompletedTask;
            });
            options.AddOperationTransformer(async (operation, context, cancellationToken) =>
            {
                var path = context.Description.RelativePath ?? "";
                var scheme = path.StartsWith("api/admin", StringComparison.Ordinal) ? ApiKeyScheme
                    : path.StartsWith("api/firmware", StringComparison.Ordinal) || path.StartsWith("api/device", StringComparison.Ordinal) ? DeviceScheme
                    : null;
                if (scheme is not null)
                {
                    operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme, context.Document)] = [] }];
                }

                if (context.Description.ActionDescriptor.EndpointMetadata.OfType<ApiDescription.RequestBody>().LastOrDefault() is { } body)
                {
                    // a named component, so that a generated client has a type named after the body
                    var document = context.Document!;
                    document.Components ??= new OpenApiComponents();
                    document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
                    document.Components.Schemas[body.Type.Name] = await context.GetOrCreateSchemaAsync(body.Type, null, cancellationToken);
                    var media = new OpenApiMediaType { Schema = new OpenApiSchemaReference(body.Type.Name, document) };
                    if (body.ExampleJson is not null)
                    {
                        media.Example = JsonNode.Parse(body.ExampleJson);
                    }

                    operation.RequestBody = new OpenApiRequestBody { Required = body.Required, Content = new Dictionary<string, OpenApiMediaType> { [body.ContentType] = media } };
                }
            });
        });
}
