using System.Reflection;
using System.Text.Json;

namespace Paku.Ota.Api.Http;

/// <summary>How an endpoint describes itself in the OpenAPI document beyond its response types: the JSON
/// body it reads (schema and an example request), the problems it answers with, or that it reads no body.
/// <c>OpenApiDocumentTests</c> walks every endpoint of the app and fails for one that says less.</summary>
public static class ApiDescription
{
    /// <summary>The body is read field by field (to name a bad field) rather than bound; <typeparamref name="TBody"/>
    /// documents it, and <see cref="FieldsOf{TBody}"/> gives the parser the same field names.</summary>
    /// <remarks>Not <c>Accepts&lt;T&gt;()</c>: routing would then answer a wrong Content-Type with a bare 415
    /// before the endpoint could say what is wrong with the body.</remarks>
    public static RouteHandlerBuilder Reads<TBody>(this RouteHandlerBuilder endpoint, string exampleJson, bool optional = false) =>
        endpoint.WithMetadata(new RequestBody(typeof(TBody), "application/json", Canonical(exampleJson), !optional));

    /// <summary>A multipart/form-data body whose parts are the properties of <typeparamref name="TForm"/>.</summary>
    public static RouteHandlerBuilder ReadsForm<TForm>(this RouteHandlerBuilder endpoint) =>
        endpoint.WithMetadata(new RequestBody(typeof(TForm), "multipart/form-data", null, Required: true));

    /// <summary>A write that takes no request body (any body sent is ignored).</summary>
    public static RouteHandlerBuilder ReadsNoBody(this RouteHandlerBuilder endpoint) => endpoint.WithMetadata(new NoRequestBody());

    /// <summary>Declares the problem+json answers: 400 as a validation problem (with its 'errors' per field),
    /// the others as plain problems.</summary>
    public static TBuilder Refuses<TBuilder>(this TBuilder endpoint, params int[] statuses)
        where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in statuses)
        {
            if (status == StatusCodes.Status400BadRequest)
            {
                endpoint.ProducesValidationProblem(status);
            }
            else
            {
                endpoint.ProducesProblem(status);
            }
        }

        return endpoint;
    }

    /// <summary>The JSON field names of a documented body (the parameters of its record's constructor), as the
    /// API's naming policy writes them. A parameter with a default value is optional in the document.</summary>
    public static string[] FieldsOf<TBody>() =>
        typeof(TBody).GetConstructors(BindingFlags.Public | BindingFlags.Instance).Single().GetParameters()
            .Select(p => JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Name!))
            .ToArray();

    private static string Canonical(string json)
    {
        using var document = JsonDocument.Parse(json); // a malformed example fails at start-up, not in a client
        return document.RootElement.GetRawText();
    }

    /// <summary>The documented request body: its type, media type and an example (JSON bodies).</summary>
    public sealed record RequestBody(Type Type, string ContentType, string? ExampleJson, bool Required);

    public sealed record NoRequestBody;
}
