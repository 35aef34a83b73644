/*
 * Paku OTA example: connect to the network, then let the client run in its
 * own task. On the first boot after an update, paku_ota_run() checks in with
 * the server before anything else and marks the image valid; if it cannot,
 * the bootloader's previous image comes back.
 */
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "nvs_flash.h"
#include "protocol_examples_common.h"

#include "paku_ota.h"

static const char *TAG = "example";

/* EMBED_TXTFILES symbols: _binary_<file name with . replaced by _>_start */
extern const char fleet_ca_pem[] asm("_binary_fleet_ca_pem_start");
extern const char device_pem[] asm("_binary_device_pem_start");
extern const char device_key[] asm("_binary_device_key_start");
extern const char signing_pub_pem[] asm("_binary_signing_pub_pem_start");

static void ota_task(void *arg)
{
    (void)arg;
    paku_ota_config_t cfg;
    paku_ota_config_default(&cfg); /* server URL, model, interval... from Kconfig */
    cfg.device_id = CONFIG_EXAMPLE_DEVICE_ID;
    cfg.ca_cert_pem = fleet_ca_pem;
    cfg.client_cert_pem = device_pem;
    cfg.client_key_pem = device_key;
    cfg.signing_pubkey_pem = signing_pub_pem;

    paku_ota_handle_t ota = NULL;
    paku_ota_err_t err = paku_ota_create(&cfg, paku_ota_port_esp_idf(), &ota);
    if (err != PAKU_OTA_OK) {
        ESP_LOGE(TAG, "paku_ota_create: %s", paku_ota_err_to_name(err));
        vTaskDelete(NULL);
        return;
    }
    /* Confirms a fresh image, then checks at the server's pace and restarts
     * into each verified update. Does not return on a device. */
    (void)paku_ota_run(ota, 0);
    paku_ota_destroy(ota);
    vTaskDelete(NULL);
}

void app_main(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        ESP_ERROR_CHECK(nvs_flash_erase());
        err = nvs_flash_init();
    }
    ESP_ERROR_CHECK(err);
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    ESP_ERROR_CHECK(example_connect());

    /* esp_http_client's TLS handshake needs about 8 KiB (ESP-IDF's own OTA
     * examples give it that); the component adds at most 1.4 KiB on top
     * (measured: see the README's stack budget). */
    xTaskCreate(ota_task, "paku_ota", 10240, NULL, 5, NULL);
}
