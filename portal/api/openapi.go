package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

//go:embed openapi.yaml
var openapiYAML []byte

var (
	docOnce sync.Once
	docJSON []byte
	docErr  error
	doc     *openapi3.T
)

// Document returns the management API's OpenAPI document, loaded and
// validated once.
func Document() (*openapi3.T, []byte, error) {
	docOnce.Do(func() {
		l := openapi3.NewLoader()
		doc, docErr = l.LoadFromData(openapiYAML)
		if docErr != nil {
			docErr = fmt.Errorf("load openapi.yaml: %w", docErr)
			return
		}
		if docErr = doc.Validate(context.Background()); docErr != nil {
			docErr = fmt.Errorf("validate openapi.yaml: %w", docErr)
			return
		}
		docJSON, docErr = json.Marshal(doc)
	})
	return doc, docJSON, docErr
}

// showOpenAPI serves the document as JSON.
func (a *API) showOpenAPI(c *gin.Context) {
	_, b, err := Document()
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}
